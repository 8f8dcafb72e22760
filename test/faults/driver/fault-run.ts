import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { LocalKafkaCluster, LocalSchemaRegistry, uniqueName } from '@troupe/testing';
import { seededRandom } from '../../../examples/order-fulfillment/src/world.js';
import { GroundTruth } from './ground-truth.js';
import { placeOrders } from './order-placer.js';
import { ServiceFleet, SERVICE_NAMES } from './service-fleet.js';
import { LagProbe } from './lag.js';
import { allEnded, DOMAIN_TOPICS, verified, verifyRun, type Verification } from './verify.js';

/** What an injector gets: the running system and a signal that fires when placing is done. */
export interface FaultContext {
  readonly fleet: ServiceFleet;
  /** The run's own cluster (undefined on a given cluster, e.g. the soak with `--brokers`). */
  readonly cluster: LocalKafkaCluster | undefined;
  /** The run's own registry (stop/start it), when `registry: 'own'`. */
  readonly registry: RestartableRegistry | undefined;
  readonly brokers: readonly string[];
  readonly registryUrl: string;
  /** Saga ids of the run's good orders start with it. */
  readonly sagaIdPrefix: string;
  /** `application_name` of every PostgreSQL connection of the run's processes. */
  readonly pgApplicationName: string;
  readonly databaseUrl: string;
  readonly random: () => number;
  /** Aborted when every order is placed: injectors stop injecting then. */
  readonly placingDone: AbortSignal;
  /** Orders placed so far. */
  placed(): number;
  /** Counts one injected fault (`kind`, optionally broken down by `target`) for the summary and progress lines. */
  count(kind: string, target?: string): void;
  log(line: string): void;
}

/** Counts of what the injectors did, for the summary. */
export type Injected = Record<string, number | Record<string, number>>;

export interface FaultRunOptions {
  /** The fault's name, first in the summary. */
  readonly fault: string;
  readonly sagas: number;
  /** Orders per second. */
  readonly rate: number;
  /** @default 4711 */
  readonly seed?: number;
  /** Own cluster of this many brokers (replication min(3, n), min.insync.replicas n-1), or given brokers. @default 1 */
  readonly kafka?: { readonly brokers: number } | { readonly given: readonly string[] };
  /** `shared`: SCHEMA_REGISTRY_URL; `own`: a registry this run may stop (durable storage on the run's Kafka). @default 'shared' */
  readonly registry?: 'shared' | 'own';
  /** @default 'memory' */
  readonly trackerStore?: 'memory' | 'postgres';
  /** @default 3 */
  readonly partitions?: number;
  /** @default 10_000 */
  readonly sessionTimeoutMs?: number;
  /** How long sagas may take to end after the last is placed. @default 240_000 */
  readonly settleTimeoutMs?: number;
  /** Extra environment per service (e.g. a slowed handler). */
  readonly serviceEnv?: Partial<Record<(typeof SERVICE_NAMES)[number], Record<string, string>>>;
  /** Injects the fault while orders are placed (counting each with `ctx.count`); resolves once `placingDone` fires. */
  readonly inject: (ctx: FaultContext) => Promise<void>;
  /** A progress line this often (placed, sagas/s, in flight, faults, lag). @default none */
  readonly progressEveryMs?: number;
  /** Extra checks after the run (e.g. dead letters of hostile input); merged into `verified`. */
  readonly verifyMore?: (ctx: FaultContext) => Promise<Record<string, unknown>>;
  /** Progress lines (stderr by default). */
  readonly log?: (line: string) => void;
}

/** The one JSON object a fault run prints as its last line. */
export interface FaultReport {
  readonly fault: string;
  readonly brokers: number;
  readonly seed: number;
  readonly rate: number;
  readonly seconds: { readonly placing: number; readonly settle: number; readonly total: number };
  readonly injected: Injected;
  readonly restarts: Record<string, number>;
  /** Order posts repeated (same order id) because the order service or its database was down. */
  readonly placeRetries: number;
  readonly verified: Omit<Verification, 'examples'> & Record<string, unknown>;
  readonly ok: boolean;
  /** Up to 10 examples per kind of problem (empty when ok). */
  readonly problems: readonly string[];
  /** Supervisor lines and dead processes' last output. */
  readonly logFile: string;
}

const PG_BASE = process.env['DATABASE_URL'] ?? process.env['TROUPE_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

function withApplicationName(url: string, name: string): string {
  const u = new URL(url);
  u.searchParams.set('application_name', name);
  return u.toString();
}

/**
 * Runs the order-fulfillment services and tracker as supervised processes, places `sagas` orders at
 * `rate`, lets `inject` do its worst meanwhile, waits for every saga to end and verifies the run
 * against its ground truth. Prints the report as one JSON line on stdout, last.
 */
export async function runFault(o: FaultRunOptions): Promise<FaultReport> {
  const log = o.log ?? ((line: string) => void process.stderr.write(`[${o.fault}] ${line}\n`));
  const t0 = Date.now();
  const seed = o.seed ?? 4711;
  const random = seededRandom(seed);
  const runId = uniqueName('f')
    .replace(/[^a-z0-9]/gi, '')
    .toLowerCase();
  const appName = `troupe_fault_${runId}`;
  const databaseUrl = withApplicationName(PG_BASE, appName);
  const tablePrefix = `fault_${runId}`;
  const trackerSchema = `fault_trk_${runId}`;
  const logFile = join(mkdtempSync(join(tmpdir(), 'troupe-fault-')), 'supervisor.log');
  const cleanup: (() => Promise<void>)[] = [];
  const kafkaOption = o.kafka ?? { brokers: 1 };
  try {
    let cluster: LocalKafkaCluster | undefined;
    let brokers: readonly string[];
    if ('given' in kafkaOption) {
      brokers = kafkaOption.given;
    } else {
      log(`starting a ${kafkaOption.brokers}-broker Kafka cluster`);
      const started = await LocalKafkaCluster.start({ brokers: kafkaOption.brokers });
      cluster = started;
      cleanup.push(() => started.stop());
      brokers = started.brokers;
    }
    let registry: RestartableRegistry | undefined;
    let registryUrl = process.env['SCHEMA_REGISTRY_URL'];
    if (o.registry === 'own' || registryUrl === undefined || registryUrl === '') {
      log('starting a schema registry');
      const own = await RestartableRegistry.start(brokers);
      registry = own;
      cleanup.push(() => own.stop());
      registryUrl = own.url;
    }

    const fleet = await ServiceFleet.start({
      brokers: brokers.join(','),
      registryUrl,
      databaseUrl,
      tablePrefix,
      partitions: o.partitions ?? 3,
      trackerStore: o.trackerStore ?? 'memory',
      trackerSchema,
      trackerGroup: `fault-tracker-${runId}`,
      sessionTimeoutMs: o.sessionTimeoutMs ?? 10_000,
      logFile,
      ...(o.serviceEnv !== undefined ? { extraEnv: o.serviceEnv } : {}),
    });
    cleanup.push(() => fleet.stop());
    cleanup.push(() => dropPostgres(tablePrefix, trackerSchema));
    log(`fleet up (${SERVICE_NAMES.length} services + tracker at ${fleet.trackerUrl}); log: ${logFile}`);

    const truth = new GroundTruth();
    const prefix = `${runId}-`;
    const placingDone = new AbortController();
    let placed = 0;
    const injected: Injected = {};
    const ctx: FaultContext = {
      fleet,
      cluster,
      registry,
      brokers,
      registryUrl,
      sagaIdPrefix: prefix,
      pgApplicationName: appName,
      databaseUrl,
      random,
      placingDone: placingDone.signal,
      placed: () => placed,
      count: (kind, target) => {
        if (target === undefined) {
          injected[kind] = ((injected[kind] as number | undefined) ?? 0) + 1;
        } else {
          const by = (injected[kind] ?? {}) as Record<string, number>;
          by[target] = (by[target] ?? 0) + 1;
          injected[kind] = by;
        }
      },
      log,
    };
    const stopProgress =
      o.progressEveryMs !== undefined ? reportProgress(ctx, { truth, prefix, everyMs: o.progressEveryMs, injected }) : undefined;
    const injecting = o.inject(ctx);
    const placing = await placeOrders({
      ordersUrl: fleet.ordersUrl,
      truth,
      random,
      sagaIdPrefix: prefix,
      rate: o.rate,
      sagas: o.sagas,
      rates: { cardExpired: 0.1, soldOut: 0.1, undeliverable: 0.1 },
      onPlaced: (n) => {
        placed = n;
        if (n % 100 === 0) log(`placed ${n}/${o.sagas}`);
      },
    });
    placingDone.abort();
    await injecting;
    log(`placed ${placing.placed} in ${placing.seconds.toFixed(0)} s; injected ${JSON.stringify(injected)}`);

    const tSettle = Date.now();
    const settleBy = tSettle + (o.settleTimeoutMs ?? 240_000);
    let progress = { ended: 0, seen: 0 };
    let lastLog = 0;
    while (Date.now() < settleBy) {
      progress = await allEnded(fleet.trackerUrl, truth, prefix).catch(() => progress);
      if (progress.ended === truth.size) break;
      if (Date.now() - lastLog > 10_000) {
        lastLog = Date.now();
        log(`waiting: ${progress.ended}/${truth.size} sagas ended (tracker sees ${progress.seen})`);
      }
      await sleep(1000);
    }
    const settleSeconds = (Date.now() - tSettle) / 1000;
    await stopProgress?.();
    const verification = await verifyRun({ brokers, trackerUrl: fleet.trackerUrl, truth, prefix });
    const more = o.verifyMore !== undefined ? await o.verifyMore(ctx) : {};
    const { examples, ...counts } = verification;
    const report: FaultReport = {
      fault: o.fault,
      brokers: cluster?.nodeInfo.length ?? brokers.length,
      seed,
      rate: o.rate,
      seconds: { placing: Math.round(placing.seconds), settle: Math.round(settleSeconds), total: Math.round((Date.now() - t0) / 1000) },
      injected,
      restarts: fleet.restarts(),
      placeRetries: placing.placeRetries,
      verified: { ...counts, ...more },
      ok: verified(verification),
      problems: examples,
      logFile,
    };
    process.stdout.write(`${JSON.stringify(report)}\n`);
    return report;
  } finally {
    for (const fn of cleanup.reverse()) await fn().catch((err: unknown) => log(`cleanup: ${String(err)}`));
  }
}

async function dropPostgres(tablePrefix: string, trackerSchema: string): Promise<void> {
  const c = new pg.Client({ connectionString: PG_BASE });
  await c.connect();
  try {
    for (const name of SERVICE_NAMES) await c.query(`DROP TABLE IF EXISTS ${tablePrefix}_${name.replace(/-/g, '_')}`);
    // The order service's orders, outbox and inbox (examples/order-fulfillment/src/bin/service.ts).
    await c.query(`DROP TABLE IF EXISTS ${tablePrefix}_orders`);
    await c.query(`DROP SCHEMA IF EXISTS ${tablePrefix}_outbox CASCADE`);
    await c.query(`DROP SCHEMA IF EXISTS ${trackerSchema} CASCADE`);
  } finally {
    await c.end();
  }
}

/** Logs a progress line every `everyMs` until the returned function is called. */
function reportProgress(
  ctx: FaultContext,
  o: { readonly truth: GroundTruth; readonly prefix: string; readonly everyMs: number; readonly injected: Injected },
): () => Promise<void> {
  const lag = new LagProbe(ctx.brokers);
  const started = Date.now();
  let lastPlaced = 0;
  let lastAt = started;
  let running: Promise<void> = Promise.resolve();
  const tick = async (): Promise<void> => {
    const now = Date.now();
    const placed = ctx.placed();
    const rate = ((placed - lastPlaced) * 1000) / Math.max(1, now - lastAt);
    lastPlaced = placed;
    lastAt = now;
    const ended = await allEnded(ctx.fleet.trackerUrl, o.truth, o.prefix).catch(() => undefined);
    const lags = await lag.lag(SERVICE_NAMES, DOMAIN_TOPICS).catch(() => undefined);
    ctx.log(
      [
        `${Math.round((now - started) / 60_000)} min`,
        `placed ${placed} (${rate.toFixed(1)}/s)`,
        `in flight ${ended === undefined ? '?' : placed - ended.ended}`,
        `faults ${JSON.stringify(o.injected)}`,
        `lag ${lags === undefined ? '?' : JSON.stringify(lags)}`,
      ].join(' | '),
    );
  };
  const timer = setInterval(() => {
    running = running.then(tick);
  }, o.everyMs);
  return async () => {
    clearInterval(timer);
    await running;
    await tick();
    await lag.close();
  };
}

/** How many faults of `kind` were injected (summed over targets). */
export function injectedCount(injected: Injected, kind: string): number {
  const v = injected[kind];
  return typeof v === 'number' ? v : Object.values(v ?? {}).reduce((a, b) => a + b, 0);
}

/**
 * The run's own Apicurio registry with durable storage on the run's Kafka (kafkasql), as in
 * production: schema ids survive a restart, which comes back on the same port.
 */
export class RestartableRegistry {
  private constructor(
    private current: LocalSchemaRegistry | undefined,
    readonly port: number,
    readonly url: string,
    private readonly brokers: readonly string[],
  ) {}

  static async start(brokers: readonly string[], port?: number): Promise<RestartableRegistry> {
    const r = await RestartableRegistry.launch(brokers, port);
    return new RestartableRegistry(r, r.port, r.url, brokers);
  }

  private static launch(brokers: readonly string[], port?: number): Promise<LocalSchemaRegistry> {
    return LocalSchemaRegistry.start({
      ...(port !== undefined ? { port } : {}),
      properties: { 'apicurio.storage.kind': 'kafkasql', 'apicurio.kafkasql.bootstrap.servers': brokers.join(',') },
    });
  }

  /** Stops it (the API is gone until {@link start}). */
  async stop(): Promise<void> {
    const r = this.current;
    this.current = undefined;
    await r?.stop();
  }

  /** Starts it again on the same port with the same storage. */
  async startAgain(): Promise<void> {
    if (this.current === undefined) this.current = await RestartableRegistry.launch(this.brokers, this.port);
  }
}
