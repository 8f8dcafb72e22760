import { OptionChecks } from '@troupe/core';
import { Kafka, logLevel, type Admin, type KafkaConfig, type SASLOptions } from 'kafkajs';
import type { ConnectionOptions } from 'node:tls';
import { pino, type Logger } from 'pino';
import { describeKafkaError, KafkaError } from './errors.js';

/** How to reach the cluster; the same options for every Troupe process that talks to Kafka. */
export interface KafkaClientOptions {
  /** Bootstrap brokers, `host:port`. */
  readonly brokers: readonly string[];
  /** @default 'troupe' */
  readonly clientId?: string;
  /** Passed to kafkajs unchanged. */
  readonly ssl?: boolean | ConnectionOptions;
  /** Passed to kafkajs unchanged (plain, scram-sha-256/512, aws, oauthbearer). */
  readonly sasl?: SASLOptions;
  /** @default 10_000 */
  readonly connectionTimeoutMs?: number;
  /** @default 30_000 */
  readonly requestTimeoutMs?: number;
  /**
   * kafkajs's own log lines go to this pino logger (kafkajs ERROR → pino error, WARN → warn, ...);
   * kafkajs logs only at the levels the logger keeps.
   * @default pino at level 'warn'
   */
  readonly logger?: Logger;
}

const BROKER = /^[^:\s]+:\d+$/;

/** Records a problem unless `brokers` is a non-empty list of `host:port`. */
export function checkBrokers(check: OptionChecks, brokers: readonly string[] | undefined): void {
  if (!Array.isArray(brokers) || brokers.length === 0 || brokers.some((b) => typeof b !== 'string' || !BROKER.test(b))) {
    check.add(`brokers must be a non-empty list of 'host:port' (got ${JSON.stringify(brokers)})`);
  }
}

/** The kafkajs log level that lets through what the pino logger keeps, no more. */
function levelFor(logger: Logger): logLevel {
  const threshold = logger.levelVal;
  if (threshold <= 20) return logLevel.DEBUG;
  if (threshold <= 30) return logLevel.INFO;
  if (threshold <= 40) return logLevel.WARN;
  if (threshold <= 50) return logLevel.ERROR;
  return logLevel.NOTHING;
}

/** kafkajs's `logLevel` and `logCreator` writing to a pino logger (child `component: 'kafkajs'`). */
export function pinoLogBridge(logger: Logger): Pick<KafkaConfig, 'logLevel' | 'logCreator'> {
  const log = logger.child({ component: 'kafkajs' });
  return {
    logLevel: levelFor(logger),
    logCreator: () => (entry) => {
      const { message, ...extra } = entry.log;
      const fields = { namespace: entry.namespace, ...extra };
      if (entry.level === logLevel.ERROR) log.error(fields, message);
      else if (entry.level === logLevel.WARN) log.warn(fields, message);
      else if (entry.level === logLevel.INFO) log.info(fields, message);
      else log.debug(fields, message);
    },
  };
}

/** A kafkajs client from the options; bad options throw CONFIG_INVALID naming each problem. */
export function createKafkaClient(options: KafkaClientOptions): Kafka {
  const check = new OptionChecks();
  checkBrokers(check, options?.brokers);
  const connectionTimeout = check.int('connectionTimeoutMs', options.connectionTimeoutMs ?? 10_000);
  const requestTimeout = check.int('requestTimeoutMs', options.requestTimeoutMs ?? 30_000);
  check.throwIfAny((problems) => new KafkaError('CONFIG_INVALID', `Kafka client: ${problems}`));
  return new Kafka({
    clientId: options.clientId ?? 'troupe',
    brokers: [...options.brokers],
    connectionTimeout,
    requestTimeout,
    ...pinoLogBridge(options.logger ?? pino({ name: 'troupe-kafka', level: 'warn' })),
    ...(options.ssl !== undefined ? { ssl: options.ssl } : {}),
    ...(options.sasl !== undefined ? { sasl: options.sasl } : {}),
  });
}

/** Connects an admin client, so a wrong address or credentials fail here with advice. */
export async function connectAdmin(kafka: Kafka, brokers: readonly string[]): Promise<Admin> {
  const admin = kafka.admin();
  try {
    await admin.connect();
  } catch (err) {
    throw new KafkaError(
      'BROKER_UNAVAILABLE',
      `cannot connect to Kafka at ${brokers.join(',')}: ${describeKafkaError(err)}. Is the broker up, and are ssl/sasl right?`,
      { cause: err },
    );
  }
  return admin;
}
