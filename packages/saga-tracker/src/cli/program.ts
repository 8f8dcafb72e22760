import { existsSync } from 'node:fs';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { pino } from 'pino';
import {
  ConfluentSchemaRegistry,
  brokersOption,
  kafkaConnectionOptions,
  registryAuthOptions,
  registryConnectionOf,
  requireKafkaConnection,
  createCli,
  integerAtLeast,
  loadCatalog,
  packageVersion,
  registryOption,
  runCli,
  usageError,
} from '@troupe/schema-registry';
import { describeKafkaConnection, parseDuration, type SagaContract } from '@troupe/core';
import type { CliIo, EventCodec } from '@troupe/schema-registry';
import { SagaTracker, topicsOfContracts } from '../tracker.js';
import type { SagaTrackerOptions } from '../tracker.js';
import { authEnabled, type TrackerAuthOptions } from '../http/auth.js';

interface AuthCliOptions {
  token?: string;
  payloadToken?: string;
  jwtJwksUrl?: string;
  jwtSecret?: string;
  jwtIssuer?: string;
  jwtAudience?: string;
  redact?: string;
}

function authOptionsOf(o: AuthCliOptions): TrackerAuthOptions {
  const tokens = [
    ...(o.token !== undefined && o.token !== '' ? [{ token: o.token, access: 'metadata' as const }] : []),
    ...(o.payloadToken !== undefined && o.payloadToken !== '' ? [{ token: o.payloadToken, access: 'payloads' as const }] : []),
  ];
  const jwt =
    o.jwtJwksUrl !== undefined || o.jwtSecret !== undefined
      ? {
          ...(o.jwtJwksUrl !== undefined ? { jwksUrl: o.jwtJwksUrl } : {}),
          ...(o.jwtSecret !== undefined ? { secret: o.jwtSecret } : {}),
          ...(o.jwtIssuer !== undefined ? { issuer: o.jwtIssuer } : {}),
          ...(o.jwtAudience !== undefined ? { audience: o.jwtAudience } : {}),
        }
      : undefined;
  const redact = (o.redact ?? '')
    .split(',')
    .map((r) => r.trim())
    .filter((r) => r !== '');
  return { tokens, ...(jwt !== undefined ? { jwt } : {}), redact };
}

interface CliOptions {
  registry?: string;
  schemas?: string;
  topics?: string;
  topicPattern?: string;
  dlqPattern: string;
  store: 'memory' | 'postgres';
  postgresUrl?: string;
  postgresSchema?: string;
  group?: string;
  sessionTimeout: number;
  retention?: number;
  payloadRetention?: number;
  memoryMaxSagas?: number;
  alertWebhook?: string;
  port: number;
  host: string;
  logLevel: string;
}

const list = (v: string): string[] =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');

function regex(name: string): (v: string) => string {
  return (v) => {
    try {
      new RegExp(v);
    } catch (err) {
      throw new InvalidArgumentError(`${name} '${v}' is not a regular expression: ${(err as Error).message}`);
    }
    return v;
  };
}

/** A duration option (`250ms`, `30s`, `5m`, `1h`, `7d`) in ms. */
function duration(name: string): (v: string) => number {
  return (v) => {
    const days = /^(\d+)d$/.exec(v);
    const ms = days?.[1] !== undefined ? Number(days[1]) * 86_400_000 : parseDuration(v);
    if (ms === undefined) throw new InvalidArgumentError(`${name} must be a duration such as 30s, 5m, 12h or 7d, got '${v}'.`);
    return ms;
  };
}

function port(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('must be an integer from 0 to 65535.');
  return n;
}

/** The result of a `troupe-tracker` run: the exit code, and the tracker when one was started. */
export interface TrackerCliRun {
  readonly code: number;
  readonly tracker?: SagaTracker;
}

/** `troupe-tracker`: starts a tracker and resolves with it (it runs until closed), or with the exit code of a bad invocation. */
export async function runTrackerCli(argv: readonly string[], io: CliIo): Promise<TrackerCliRun> {
  let tracker: SagaTracker | undefined;
  const code = await runCli(
    buildTrackerCli(io, (t) => (tracker = t)),
    argv,
  );
  return tracker === undefined ? { code } : { code, tracker };
}

/** The `troupe-tracker` command, writing to `io`; its action hands the started tracker to `started`. */
export function buildTrackerCli(io: CliIo, started: (tracker: SagaTracker) => void): Command {
  const program = createCli({
    name: 'troupe-tracker',
    description: 'Read-only saga tracker: consumes the saga and dead-letter topics, serves a JSON API and a web page.',
    version: packageVersion(import.meta.url),
    io,
  })
    .addOption(brokersOption())
    .addOption(registryOption('Confluent-compatible schema registry, to decode payloads for the detail view'))
    .option(
      '--schemas <dir>',
      'schemas directory: <topic>/*.avsc and sagas/*.saga.yaml (contracts and their topics)',
      existsSync('schemas') ? 'schemas' : undefined,
    )
    .option('--topics <list>', "topics to read (default: the topics of the contracts' event types)")
    .option('--topic-pattern <regex>', 'also read every topic whose name matches', regex('--topic-pattern'))
    .option('--dlq-pattern <regex>', 'dead-letter topics', regex('--dlq-pattern'), '\\.dlq$')
    .addOption(new Option('--store <kind>', 'where projections live').choices(['memory', 'postgres']).default('memory'))
    .addOption(new Option('--postgres-url <url>', 'PostgreSQL connection string (with --store postgres)').env('DATABASE_URL'))
    .option('--postgres-schema <name>', 'PostgreSQL schema for the tracker tables', 'troupe_tracker')
    .option('--group <id>', 'consumer group (default: troupe-tracker for postgres, a fresh one per process for memory)')
    .option(
      '--session-timeout <ms>',
      'how long the group waits for a silent instance before reassigning its partitions',
      integerAtLeast(1),
      30_000,
    )
    .option('--retention <duration>', 'delete finished sagas this long after they ended, e.g. 7d (default: keep)', duration('--retention'))
    .option(
      '--payload-retention <duration>',
      'drop payloads of finished sagas this long after they ended, e.g. 1d',
      duration('--payload-retention'),
    )
    .option('--memory-max-sagas <n>', 'memory store: at most this many sagas (oldest finished evicted first)', integerAtLeast(1))
    .option('--alert-webhook <url>', 'POST a JSON alert once per stuck, failed, compensation-failed or non-conforming saga')
    .option('--port <n>', 'HTTP port', port, 8080)
    .option('--host <addr>', 'HTTP interface', '127.0.0.1')
    .addOption(
      new Option('--log-level <level>', 'pino level')
        .choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
        .default('info'),
    )
    .action(async () => {
      started(await startTracker(program));
    });
  // SASL/TLS and registry basic auth: the same flags and variables as every Troupe tool.
  for (const option of [...kafkaConnectionOptions(), ...registryAuthOptions()]) program.addOption(option);
  program
    .addOption(new Option('--token <token>', 'bearer token that may read saga metadata (not payloads)').env('TRACKER_TOKEN'))
    .addOption(new Option('--payload-token <token>', 'bearer token that may also read decoded payloads').env('TRACKER_PAYLOAD_TOKEN'))
    .addOption(
      new Option('--jwt-jwks-url <url>', 'verify JWT bearer tokens against this JWKS (your OIDC provider)').env('TRACKER_JWT_JWKS_URL'),
    )
    .addOption(new Option('--jwt-secret <secret>', 'verify HS256 JWT bearer tokens with this secret').env('TRACKER_JWT_SECRET'))
    .addOption(new Option('--jwt-issuer <iss>', 'required JWT issuer').env('TRACKER_JWT_ISSUER'))
    .addOption(new Option('--jwt-audience <aud>', 'required JWT audience').env('TRACKER_JWT_AUDIENCE'))
    .addOption(
      new Option('--trace-url <template>', "link each saga to its trace, e.g. 'http://localhost:16686/trace/{traceId}'").env(
        'TRACKER_TRACE_URL',
      ),
    )
    .addOption(
      new Option('--redact <rules>', "payload fields nobody sees, comma-separated '<type or *>:<field.path>'").env('TRACKER_REDACT'),
    );
  return program;
}

async function startTracker(program: Command): Promise<SagaTracker> {
  const o = program.opts<CliOptions>();
  const kafka = requireKafkaConnection(program);
  const registry = registryConnectionOf(program);
  if (o.store === 'postgres' && (o.postgresUrl === undefined || o.postgresUrl === '')) {
    usageError(program, '--store postgres needs --postgres-url (or DATABASE_URL), e.g. postgres://user@127.0.0.1:5432/db');
  }
  let contracts: SagaContract[] = [];
  let contractTopics: string[] = [];
  if (o.schemas !== undefined) {
    const catalog = await loadCatalog(o.schemas);
    contracts = catalog.contracts.map((c) => c.contract);
    const topicOf = new Map(catalog.events.map((e) => [e.name, e.topic]));
    contractTopics = topicsOfContracts(contracts, (t) => topicOf.get(t));
  }
  const topics = o.topics !== undefined ? list(o.topics) : contractTopics;
  if (topics.length === 0 && o.topicPattern === undefined) {
    usageError(program, 'nothing to read: give --schemas with saga contracts, --topics, or --topic-pattern');
  }
  let codec: EventCodec | undefined;
  if (registry !== undefined) codec = await ConfluentSchemaRegistry.create(registry);

  const logger = pino({ name: 'troupe-tracker', level: o.logLevel });
  const auth = authOptionsOf(program.opts<AuthCliOptions>());
  if (!authEnabled(auth) && !/^(127\.|::1$|localhost$)/.test(o.host)) {
    logger.warn(
      { host: o.host },
      'the tracker is open to anyone who reaches this interface: set TRACKER_TOKEN (or --jwt-*) or listen on 127.0.0.1',
    );
  }
  const opts: SagaTrackerOptions = {
    brokers: kafka.brokers,
    contracts,
    topics,
    deadLetterPattern: new RegExp(o.dlqPattern),
    ...(o.topicPattern !== undefined ? { topicPattern: new RegExp(o.topicPattern) } : {}),
    store:
      o.store === 'postgres'
        ? { kind: 'postgres', url: o.postgresUrl ?? '', ...(o.postgresSchema !== undefined ? { schema: o.postgresSchema } : {}) }
        : { kind: 'memory', ...(o.memoryMaxSagas !== undefined ? { maxSagas: o.memoryMaxSagas } : {}) },
    ...(o.retention !== undefined || o.payloadRetention !== undefined
      ? {
          retention: {
            ...(o.retention !== undefined ? { finishedMs: o.retention } : {}),
            ...(o.payloadRetention !== undefined ? { payloadsMs: o.payloadRetention } : {}),
          },
        }
      : {}),
    ...(o.alertWebhook !== undefined ? { alerts: { url: o.alertWebhook } } : {}),
    ...(codec !== undefined ? { codec } : {}),
    ...(o.group !== undefined ? { groupId: o.group } : {}),
    port: o.port,
    host: o.host,
    auth,
    ...(program.opts<{ traceUrl?: string }>().traceUrl !== undefined ? { traceUrl: program.opts<{ traceUrl?: string }>().traceUrl } : {}),
    logger,
    ingest: {
      sessionTimeoutMs: o.sessionTimeout,
      kafka: { ...(kafka.ssl !== undefined ? { ssl: kafka.ssl } : {}), ...(kafka.sasl !== undefined ? { sasl: kafka.sasl } : {}) },
    },
  };
  const tracker = await SagaTracker.create(opts);
  logger.info(
    {
      url: tracker.url,
      store: o.store,
      topics: tracker.ingest.topics,
      group: tracker.ingest.groupId,
      kafka: describeKafkaConnection(kafka),
    },
    'tracker ready',
  );
  return tracker;
}
