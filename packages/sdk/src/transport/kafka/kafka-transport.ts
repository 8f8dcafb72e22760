import { OptionChecks } from '@troupe/core';
import {
  checkBrokers,
  connectAdmin,
  createKafkaClient,
  readTopicToEnd,
  topicPartitionCounts,
  type KafkaClientOptions,
} from '@troupe/kafka';
import { Partitioners, type Admin, type Kafka, type Producer } from 'kafkajs';
import { pino } from 'pino';
import { describeError, SdkError, throwIfInvalid } from '../../errors.js';
import { sleep } from '../../util/semaphore.js';
import type { ConsumerHandle, ConsumerSpec, InboundMessage, OutboundRecord, TopicSpec, Transport } from '../transport.js';
import { accessError, rethrowAccess } from './access-errors.js';
import { producerStateLost } from './producer-state.js';
import { KafkaConsumerLoop, toTopicMessages, type TransportSettings } from './kafka-consumer-loop.js';
import { findUnreplicated, topicConfigOf, warnUnreplicated } from './replication-check.js';

/**
 * The client options (brokers, clientId, ssl, sasl, timeouts, logger) are `@troupe/kafka`'s, shared
 * with the tracker; the rest is about consuming and transactions.
 */
export interface KafkaTransportOptions extends KafkaClientOptions {
  /**
   * Consumer group session timeout.
   * @default 30_000
   */
  readonly sessionTimeoutMs?: number;
  /**
   * Transaction timeout; a transaction open longer (a crashed instance's) is aborted by the broker.
   * @default 60_000
   */
  readonly transactionTimeoutMs?: number;
  /**
   * Pause before a batch whose handler threw (or whose commit failed) is fetched again.
   * @default 200
   */
  readonly redeliveryDelayMs?: number;
  /**
   * Longest a fetch waits for new records. Also bounds how late a resumed (paused) partition is
   * fetched again, since a new fetch starts only when the current one returns.
   * @default 500 (as Java's fetch.max.wait.ms)
   */
  readonly maxWaitTimeMs?: number;
  /**
   * Attempts of one batch's transaction when the broker answers with a retriable error (e.g.
   * CONCURRENT_TRANSACTIONS right after the previous commit), before the batch is redelivered.
   * @default 5
   */
  readonly commitAttempts?: number;
  /**
   * First retry delay of the transactional producers (kafkajs doubles it per retry). Right after a
   * commit the transaction coordinator answers CONCURRENT_TRANSACTIONS to the next transaction's
   * first request until it has written the markers, which takes a few ms; at kafkajs's default of
   * 300 ms every transaction after the first waits that long, which halves exactly-once throughput.
   * @default 100
   */
  readonly transactionRetryMs?: number;
  /**
   * Records fetched and not yet handled, per topic-partition: a queue at this bound pauses its
   * partition's fetching until the partition's worker has drained it to half. Fetching never waits
   * for handlers otherwise. One fetch may overshoot the bound by up to kafkajs's
   * `maxBytesPerPartition` (1 MiB).
   * @default 1000
   */
  readonly maxQueuedRecords?: number;
  /**
   * Bytes (keys, values, headers) fetched and not yet handled, per topic-partition; as
   * `maxQueuedRecords`.
   * @default 4 MiB
   */
  readonly maxQueuedBytes?: number;
  /**
   * A saga's events on co-partitioned topics are handed over in timestamp order. When the next
   * record's topic is ahead of another topic whose partition has unread records not fetched yet,
   * the worker waits for them — at most this long, then it goes on without them (as Kafka
   * Streams' `max.task.idle.ms`).
   * @default 1000
   */
  readonly mergeWaitMs?: number;
}

/**
 * The real transport, on kafkajs. Fetching is decoupled from handling: records go to per-partition
 * queues, and one worker per partition number merges its co-partitioned topics in timestamp order
 * (see `kafka-consumer-loop.ts`). Exactly-once delivery: per partition number one transactional
 * producer (`<prefix>-<partition>`) appends a batch's outputs and commits its offsets with
 * `sendOffsets` in one transaction; consumers read `read_committed`. See the package README for
 * why the transactional id follows the partition number (zombie fencing).
 */
export class KafkaTransport implements Transport {
  readonly kind = 'kafka' as const;
  readonly kafka: Kafka;
  private producer: Producer | undefined;
  private producerConnecting: Promise<Producer> | undefined;
  private readonly consumers = new Set<ConsumerHandle>();
  private readonly replicationChecked = new Set<string>();
  private closed = false;

  private constructor(
    kafka: Kafka,
    private readonly admin: Admin,
    private readonly opts: TransportSettings,
  ) {
    this.kafka = kafka;
  }

  /** Connects the admin client (so a wrong address fails here, with advice) and returns the transport. */
  static async create(options: KafkaTransportOptions): Promise<KafkaTransport> {
    const check = new OptionChecks();
    checkBrokers(check, options?.brokers);
    const settings: TransportSettings = {
      sessionTimeoutMs: check.int('sessionTimeoutMs', options.sessionTimeoutMs ?? 30_000, { min: 1_000 }),
      transactionTimeoutMs: check.int('transactionTimeoutMs', options.transactionTimeoutMs ?? 60_000),
      redeliveryDelayMs: check.number('redeliveryDelayMs', options.redeliveryDelayMs ?? 200),
      commitAttempts: check.int('commitAttempts', options.commitAttempts ?? 5),
      transactionRetryMs: check.int('transactionRetryMs', options.transactionRetryMs ?? 100),
      maxWaitTimeMs: check.int('maxWaitTimeMs', options.maxWaitTimeMs ?? 500),
      maxQueuedRecords: check.int('maxQueuedRecords', options.maxQueuedRecords ?? 1000),
      maxQueuedBytes: check.int('maxQueuedBytes', options.maxQueuedBytes ?? 4 * 1024 * 1024),
      mergeWaitMs: check.number('mergeWaitMs', options.mergeWaitMs ?? 1000),
      logger: options.logger ?? pino({ name: 'troupe-kafka', level: 'warn' }),
      principal: principalOf(options),
    };
    check.int('connectionTimeoutMs', options.connectionTimeoutMs ?? 10_000);
    check.int('requestTimeoutMs', options.requestTimeoutMs ?? 30_000);
    throwIfInvalid(check, 'Kafka transport');
    const kafka = createKafkaClient({ ...options, logger: settings.logger });
    try {
      return new KafkaTransport(kafka, await connectAdmin(kafka, options.brokers), settings);
    } catch (err) {
      const denied = accessError(err, `connecting to Kafka at ${options.brokers.join(',')}`, settings.principal);
      if (denied) throw denied;
      throw new SdkError('TRANSPORT_ERROR', (err as Error).message, { cause: err });
    }
  }

  /** The SASL user name, for error messages; undefined without SASL. */
  get principal(): string | undefined {
    return this.opts.principal;
  }

  async partitionCounts(topics: readonly string[]): Promise<ReadonlyMap<string, number>> {
    this.assertOpen();
    try {
      return await topicPartitionCounts(this.admin, topics);
    } catch (err) {
      return rethrowAccess(err, `reading metadata of ${topics.join(', ')}`, this.principal);
    }
  }

  async ensureTopics(specs: readonly TopicSpec[]): Promise<ReadonlyMap<string, number>> {
    const counts = await this.createMissing(specs);
    await this.warnIfUnreplicated(specs.map((s) => s.topic));
    return counts;
  }

  /** Warns once per topic when it has one replica on a multi-broker cluster. */
  private async warnIfUnreplicated(topics: readonly string[]): Promise<void> {
    const fresh = topics.filter((t) => !this.replicationChecked.has(t));
    for (const t of fresh) this.replicationChecked.add(t);
    try {
      const found = await findUnreplicated(this.admin, fresh);
      if (found) warnUnreplicated(this.opts.logger, found);
    } catch (err) {
      // Only a warning is at stake: a principal without DESCRIBE on the cluster still starts.
      this.opts.logger.debug({ err: describeError(err) }, 'cannot check the replication of the topics');
    }
  }

  private async createMissing(specs: readonly TopicSpec[]): Promise<ReadonlyMap<string, number>> {
    this.assertOpen();
    const existing = await this.partitionCounts(specs.map((s) => s.topic));
    const missing = specs.filter((s) => !existing.has(s.topic));
    if (missing.length > 0) {
      try {
        await this.admin.createTopics({
          waitForLeaders: true,
          topics: missing.map((s) => ({
            topic: s.topic,
            numPartitions: s.partitions,
            // Left out, kafkajs sends -1: the broker's default.replication.factor (KIP-464).
            ...(s.replicationFactor !== undefined ? { replicationFactor: s.replicationFactor } : {}),
            configEntries: topicConfigOf(s),
          })),
        });
      } catch (err) {
        const denied = accessError(err, `creating topics ${missing.map((s) => s.topic).join(', ')}`, this.principal);
        if (denied) throw denied;
        // Another instance may be creating the same topics at this moment: kafkajs then reports
        // "already exists", or — while it waits for leaders of a topic it did not create —
        // "does not host this topic-partition" (retriable). Re-reading the metadata settles both.
        const retriable = typeof err === 'object' && err !== null && (err as { retriable?: unknown }).retriable === true;
        if (!retriable && !/already exists/i.test(describeError(err))) {
          throw new SdkError('TRANSPORT_ERROR', `cannot create topics ${missing.map((s) => s.topic).join(', ')}: ${describeError(err)}`, {
            cause: err,
          });
        }
      }
      // Metadata may lag topic creation for a moment.
      for (let i = 0; i < 100; i++) {
        const counts = await this.partitionCounts(specs.map((s) => s.topic));
        if (counts.size === specs.length) return counts;
        await sleep(100);
      }
      const still = await this.partitionCounts(specs.map((s) => s.topic));
      const absent = specs.filter((s) => !still.has(s.topic)).map((s) => s.topic);
      if (absent.length > 0) {
        throw new SdkError(
          'TRANSPORT_ERROR',
          `topics ${absent.join(', ')} still do not exist 10 s after creating them; check the broker log and its topic-creation limits.`,
        );
      }
      return still;
    }
    return this.partitionCounts(specs.map((s) => s.topic));
  }

  async send(records: readonly OutboundRecord[]): Promise<void> {
    this.assertOpen();
    const topics = [...new Set(records.map((r) => r.topic))].join(', ');
    try {
      const producer = await this.plainProducer();
      await producer.sendBatch({ topicMessages: toTopicMessages(records) });
    } catch (err) {
      // The caller tries again (publisher, outbox relay); with the same producer it would fail forever.
      if (producerStateLost(err)) await this.dropProducer();
      rethrowAccess(err, `writing to ${topics}`, this.principal);
    }
  }

  async committedOffsets(groupId: string, topic: string): Promise<ReadonlyMap<number, string>> {
    this.assertOpen();
    const [entry] = await this.admin.fetchOffsets({ groupId, topics: [topic] });
    return new Map((entry?.partitions ?? []).filter((p) => BigInt(p.offset) >= 0n).map((p) => [p.partition, p.offset]));
  }

  readPartition(
    topic: string,
    partition: number,
    fromOffset: string,
    opts: { readonly last?: number } = {},
  ): Promise<readonly InboundMessage[]> {
    this.assertOpen();
    return readTopicToEnd(this.kafka, topic, { partition, fromOffset, ...(opts.last !== undefined ? { last: opts.last } : {}) });
  }

  async maxMessageBytes(topics: readonly string[]): Promise<ReadonlyMap<string, number>> {
    this.assertOpen();
    const out = new Map<string, number>();
    if (topics.length === 0) return out;
    const res = await this.admin.describeConfigs({
      includeSynonyms: false,
      resources: topics.map((name) => ({ type: TOPIC_RESOURCE, name, configNames: ['max.message.bytes'] })),
    });
    for (const r of res.resources) {
      const value = r.configEntries.find((c) => c.configName === 'max.message.bytes')?.configValue;
      if (r.errorCode === 0 && value !== undefined && Number.isFinite(Number(value))) out.set(r.resourceName, Number(value));
    }
    return out;
  }

  async ping(): Promise<void> {
    this.assertOpen();
    await this.admin.describeCluster();
  }

  async consume(spec: ConsumerSpec): Promise<ConsumerHandle> {
    this.assertOpen();
    const handle = await KafkaConsumerLoop.start(this, spec, this.opts);
    this.consumers.add(handle);
    return {
      stop: async () => {
        this.consumers.delete(handle);
        await handle.stop();
      },
      isRunning: () => handle.isRunning(),
      assignment: () => handle.assignment(),
      lag: () => handle.lag(),
      joins: () => handle.generations,
      workers: () => handle.workerStates(),
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.consumers].map((c) => c.stop()));
    await this.producer?.disconnect();
    await this.admin.disconnect();
  }

  /** @internal Offsets lookups for lag. */
  get adminClient(): Admin {
    return this.admin;
  }

  private assertOpen(): void {
    if (this.closed) throw new SdkError('CLOSED', 'the Kafka transport is closed; create a new one');
  }

  private async dropProducer(): Promise<void> {
    const p = this.producer;
    this.producer = undefined;
    this.producerConnecting = undefined;
    this.opts.logger.warn('the idempotent producer lost its sequence state (leader moved or producer id expired); sending with a new one');
    await p?.disconnect().catch(() => undefined);
  }

  private plainProducer(): Promise<Producer> {
    if (this.producer) return Promise.resolve(this.producer);
    this.producerConnecting ??= (async () => {
      const p = this.kafka.producer({ idempotent: true, createPartitioner: Partitioners.DefaultPartitioner });
      await p.connect();
      this.producer = p;
      return p;
    })();
    this.producerConnecting.catch(() => (this.producerConnecting = undefined));
    return this.producerConnecting;
  }
}

/** kafkajs's `ConfigResourceTypes.TOPIC`; the enum is not a named export Node's ESM loader can see in kafkajs's CommonJS. */
const TOPIC_RESOURCE = 2;

/** The SASL user name of the options, for error messages. */
function principalOf(options: KafkaTransportOptions): string | undefined {
  const sasl = options.sasl as { username?: unknown } | undefined;
  return typeof sasl?.username === 'string' ? sasl.username : undefined;
}
