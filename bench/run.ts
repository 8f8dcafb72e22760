// `npm run bench` (full) and `npm run bench -- --quick`: every contender on one broker, rounds
// interleaved (each round runs every contender once, in a rotated order, so drift in the machine's
// load spreads over all of them), medians of the rounds. Prints a table and, as the last stdout
// line, one JSON object; writes the same object to bench/results/. Progress goes to stderr.
// Not a test: nothing here asserts a number.
import { execSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import pg from 'pg';
import { KAFKA_VERSION, LocalSchemaRegistry, startTestKafka } from '@troupe/testing';
import { buildKafkaStreams, startKafkaStreams } from './contenders/kafka-streams.js';
import { runSagas, type SagaRun } from './contenders/saga.js';
import { produceSagaEvents } from './contenders/tracker.js';
import type { WorkerJob } from './contenders/worker.js';
import { BASELINE_CONTENDERS, parseBenchArgs, TRACKER_CONTENDERS, USAGE, type BenchOptions } from './lib/options.js';
import { startProcess, type Contender } from './lib/proc.js';
import { formatTable, machine, median, ratio, series, writeResult, type Series } from './lib/results.js';
import { createTopics as createStepTopics, produceInput, timeStep, type StepConfig } from './lib/step.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const WORKER = join(ROOT, 'bench/contenders/worker.ts');
const say = (m: string): void => void process.stderr.write(`[bench] ${m}\n`);
const uptime = (): string => execSync('uptime').toString().trim();
const versionOf = (pkg: string): string =>
  (JSON.parse(readFileSync(join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  console.log(USAGE);
  process.exit(0);
}
let opts: BenchOptions;
try {
  opts = parseBenchArgs(process.argv.slice(2), join(ROOT, 'bench/results'));
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(2);
}
const run = `${Date.now().toString(36)}-${randomBytes(2).toString('hex')}`;
const databaseUrl = process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const results: Record<string, Series> = {};
const started = new Date();
const loadBefore = uptime();
say(`${opts.quick ? 'quick' : 'full'} run ${run}; ${loadBefore}`);

const kafkaHandle = await startTestKafka({ onProgress: (m) => say(`kafka: ${m}`) });
const brokers = kafkaHandle.brokers;
const kafka = new Kafka({ clientId: 'bench-harness', brokers: [...brokers], logLevel: logLevel.NOTHING });
const admin: Admin = kafka.admin();
await admin.connect();
const cleanup: (() => Promise<void>)[] = [() => admin.disconnect(), () => kafkaHandle.stop()];
// Ctrl-C stops the broker and registry this run started instead of leaving JVMs behind.
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    say(`${sig}: stopping`);
    void (async () => {
      for (const fn of cleanup) await fn().catch(() => undefined);
      process.exit(130);
    })();
  });
}

/** Each round runs `items` once, starting one further along than the round before. */
const rotated = <T>(items: readonly T[], round: number): T[] => items.map((_, i) => items[(i + round) % items.length] as T);

const createTopics = (topics: readonly string[]): Promise<void> => createStepTopics(admin, { topics, partitions: opts.partitions });

let classpath: string | undefined;
function startContender(cfg: StepConfig): Contender {
  if (cfg.contender.startsWith('kstreams-')) {
    classpath ??= buildKafkaStreams(say);
    return startKafkaStreams({
      ...cfg,
      classpath,
      guarantee: cfg.contender === 'kstreams-eos' ? 'exactly_once_v2' : 'at_least_once',
      commitIntervalMs: 100,
    });
  }
  const job: WorkerJob = { kind: 'step', ...cfg };
  // One folder per run: tsx's loader thread writes a profile of its own next to the main thread's.
  const prof = opts.profileDir !== undefined ? ['--cpu-prof', '--cpu-prof-dir', join(opts.profileDir, cfg.groupId)] : [];
  return startProcess(process.execPath, [...prof, '--import', 'tsx', WORKER], { ...process.env, BENCH_JOB: JSON.stringify(job) });
}

/** One timed run of one step contender on a fresh output topic and group: events/s and CPU µs per event. */
async function stepRun(
  contender: string,
  input: { topic: string; n: number; label: string },
): Promise<{ rate: number; cpuUs: number | undefined }> {
  const id = `${contender}-${run}-${input.label}-${randomBytes(2).toString('hex')}`;
  const cfg: StepConfig = {
    contender,
    brokers,
    inTopic: input.topic,
    outTopic: `bench-out-${id}`,
    groupId: `bench-${id}`,
    partitions: opts.partitions,
    batch: opts.batch,
  };
  await createTopics([cfg.outTopic]);
  const proc = startContender(cfg);
  try {
    const t = await timeStep(admin, {
      inTopic: cfg.inTopic,
      outTopic: cfg.outTopic,
      groupId: cfg.groupId,
      pid: proc.child.pid,
      exited: proc.exited,
      timeoutMs: 600_000,
    });
    return { rate: input.n / t.seconds, cpuUs: t.cpuSeconds === undefined ? undefined : (t.cpuSeconds * 1e6) / input.n };
  } finally {
    await proc.stop();
  }
}

async function stepGroup(name: string, contenders: readonly string[], n: number): Promise<void> {
  const topic = `bench-in-${run}-${name}`;
  await createTopics([topic]);
  say(`${name}: writing ${n} OrderPlaced events to ${topic} (${opts.partitions} partitions)`);
  await produceInput(kafka, { topic, n });
  const rates = new Map<string, number[]>(contenders.map((c) => [c, []]));
  const cpu = new Map<string, number[]>(contenders.map((c) => [c, []]));
  for (let round = 0; round < opts.rounds; round++) {
    say(`${name}: round ${round + 1}/${opts.rounds}; ${uptime()}`);
    for (const c of rotated(contenders, round)) {
      const r = await stepRun(c, { topic, n, label: name });
      say(`  ${c}: ${r.rate.toFixed(0)} events/s, ${r.cpuUs?.toFixed(1) ?? '?'} µs CPU/event`);
      rates.get(c)?.push(r.rate);
      if (r.cpuUs !== undefined) cpu.get(c)?.push(r.cpuUs);
    }
  }
  for (const [c, r] of rates) results[`${c} @${n}`] = series('events/s', r);
  for (const [c, r] of cpu) if (r.length > 0) results[`${c} @${n} cpu`] = series('µs CPU/event', r);
}

async function postgresReachable(): Promise<boolean> {
  const c = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 3000 });
  try {
    await c.connect();
    await c.end();
    return true;
  } catch {
    return false;
  }
}

async function trackerGroup(): Promise<void> {
  const { topics, events } = await produceSagaEvents(brokers, { prefix: `bench-trk-${run}`, sagas: opts.trackerSagas, partitions: 3 });
  say(`tracker: ${opts.trackerSagas} sagas, ${events} events on ${topics.length} topics x 3 partitions`);
  const pgOk = await postgresReachable();
  if (!pgOk) say(`tracker: PostgreSQL at ${databaseUrl} is not reachable; the postgres store is skipped`);
  const contenders = TRACKER_CONTENDERS.filter((c) => c !== 'tracker-postgres' || pgOk);
  const rates = new Map<string, number[]>(contenders.map((c) => [c, []]));
  for (let round = 0; round < opts.rounds; round++) {
    say(`tracker: round ${round + 1}/${opts.rounds}; ${uptime()}`);
    for (const c of rotated(contenders, round)) {
      const job: WorkerJob = { kind: 'tracker', contender: c, brokers, topics, total: events, ...(pgOk ? { pgUrl: databaseUrl } : {}) };
      const proc = startProcess(process.execPath, ['--import', 'tsx', WORKER], { ...process.env, BENCH_JOB: JSON.stringify(job) });
      await new Promise<void>((resolve) => proc.child.on('exit', () => resolve()));
      const last = proc.stdout().trim().split('\n').pop() ?? '';
      if (proc.child.exitCode !== 0 || !last.startsWith('{')) throw new Error(`${c} failed: ${proc.exited() ?? ''}`);
      const rate = (JSON.parse(last) as { rate: number }).rate;
      say(`  ${c}: ${rate.toFixed(0)} events/s`);
      rates.get(c)?.push(rate);
    }
  }
  for (const [c, r] of rates) results[`${c} @${events}`] = series('events/s', r);
}

const sagaRuns: { saturation: SagaRun[]; fixed: SagaRun[] } = { saturation: [], fixed: [] };
async function sagaGroup(): Promise<void> {
  let registryUrl = process.env['SCHEMA_REGISTRY_URL'];
  if (registryUrl === undefined || registryUrl === '') {
    say('saga: starting a local schema registry for the demo services');
    const registry = await LocalSchemaRegistry.start();
    cleanup.unshift(() => registry.stop());
    registryUrl = registry.url;
  }
  if (!(await postgresReachable())) throw new Error(`the order saga needs PostgreSQL at ${databaseUrl} (set DATABASE_URL)`);
  for (let round = 0; round < opts.sagaRounds; round++) {
    for (const [kind, load] of rotated(
      [
        ['saturation', opts.sagaSaturation],
        ['fixed', opts.sagaFixed],
      ] as const,
      round,
    )) {
      say(`saga: round ${round + 1}/${opts.sagaRounds}, ${kind}: ${load.sagas} sagas offered at ${load.rate}/s; ${uptime()}`);
      const r = await runSagas({ brokers, registryUrl, databaseUrl, sagas: load.sagas, rate: load.rate, partitions: opts.partitions });
      say(
        `  ${r.sagasPerSecond.toFixed(0)} sagas/s, p50 ${r.latencyMs.p50} ms, p99 ${r.latencyMs.p99} ms, verified ${r.verified}${r.problem !== undefined ? `: ${r.problem}` : ''}`,
      );
      sagaRuns[kind].push(r);
    }
  }
  results[`order saga, saturation (offered ${opts.sagaSaturation.rate}/s)`] = series(
    'sagas/s',
    sagaRuns.saturation.map((r) => r.sagasPerSecond),
  );
  for (const p of ['p50', 'p95', 'p99'] as const)
    results[`order saga latency ${p} at ${opts.sagaFixed.rate}/s`] = series(
      'ms',
      sagaRuns.fixed.map((r) => r.latencyMs[p]),
    );
}

try {
  const baseline = process.env['BENCH_SDK_BASELINE'] !== undefined && !opts.contendersChosen ? BASELINE_CONTENDERS : [];
  if (opts.groups.includes('step')) await stepGroup('step', [...opts.contenders, ...baseline], opts.events);
  if (opts.groups.includes('streams200k') && opts.streamsEvents > 0) {
    const wanted = ['troupe-eos', 'troupe-alo', 'raw-tx-100ms', 'kstreams-eos', 'kstreams-alo'].filter((c) => opts.contenders.includes(c));
    await stepGroup('streams', wanted, opts.streamsEvents);
  }
  if (opts.groups.includes('tracker')) await trackerGroup();
  if (opts.groups.includes('saga')) await sagaGroup();
} catch (err) {
  say(`failed: ${(err as Error).stack ?? String(err)}`);
  process.exitCode = 1;
} finally {
  for (const fn of cleanup) await fn().catch((e: unknown) => say(`cleanup: ${String(e)}`));
}

const n = opts.events;
const s = opts.streamsEvents > 0 && opts.groups.includes('streams200k') ? opts.streamsEvents : n;
const bestRawTx =
  (results[`raw-tx-100ms @${n}`]?.median ?? 0) >= (results[`raw-tx @${n}`]?.median ?? 0) ? `raw-tx-100ms @${n}` : `raw-tx @${n}`;
const trackerKey =
  Object.keys(results)
    .find((k) => k.startsWith('tracker-raw'))
    ?.split(' @')[1] ?? '';
const result = {
  mode: opts.quick ? 'quick' : 'full',
  date: started.toISOString(),
  command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
  load: { before: loadBefore, after: uptime() },
  machine: machine(),
  baseline: process.env['BENCH_SDK_BASELINE'] ?? null,
  versions: {
    node: process.version,
    kafkajs: versionOf('kafkajs'),
    kafka: KAFKA_VERSION,
    kafkaStreams: '4.1.2',
    nestjsMicroservices: versionOf('@nestjs/microservices'),
  },
  broker: { kind: kafkaHandle.kind, brokers },
  config: {
    rounds: opts.rounds,
    events: n,
    streamsEvents: opts.streamsEvents,
    partitions: opts.partitions,
    batch: opts.batch,
    trackerSagas: opts.trackerSagas,
    sagaSaturation: opts.sagaSaturation,
    sagaFixed: opts.sagaFixed,
    sagaRounds: opts.sagaRounds,
  },
  results,
  ratios: {
    sdkVsRaw: ratio(results, `troupe-alo @${n}`, `raw-alo @${n}`),
    sdkTxVsRawTx: ratio(results, `troupe-eos @${n}`, bestRawTx),
    sdkTxVsRawTxDefaultRetry: ratio(results, `troupe-eos @${n}`, `raw-tx @${n}`),
    sdkTxVsRawAlo: ratio(results, `troupe-eos @${n}`, `raw-alo @${n}`),
    sdkVsNest: ratio(results, `troupe-alo @${n}`, `nest @${n}`),
    trackerVsRawConsumer: ratio(results, `tracker-memory @${trackerKey}`, `tracker-raw @${trackerKey}`),
    trackerPostgresVsRawConsumer: ratio(results, `tracker-postgres @${trackerKey}`, `tracker-raw @${trackerKey}`),
    sdkTxVsKafkaStreams: ratio(results, `troupe-eos @${s}`, `kstreams-eos @${s}`),
    sdkVsKafkaStreamsAlo: ratio(results, `troupe-alo @${s}`, `kstreams-alo @${s}`),
    sdkVsBaseline: ratio(results, `troupe-alo @${n}`, `troupe-alo-baseline @${n}`),
    inboxEos: ratio(results, `troupe-eos @${n}`, `troupe-eos-noinbox @${n}`),
    inboxAlo: ratio(results, `troupe-alo @${n}`, `troupe-alo-noinbox @${n}`),
    // CPU per event, raw over Troupe (so, like the others, > 1 would mean Troupe is cheaper).
    sdkVsRawCpu: ratio(results, `raw-alo @${n} cpu`, `troupe-alo @${n} cpu`),
    sdkTxVsRawTxCpu: ratio(results, `${bestRawTx} cpu`, `troupe-eos @${n} cpu`),
    sdkCpuVsBaseline: ratio(results, `troupe-alo-baseline @${n} cpu`, `troupe-alo @${n} cpu`),
    sdkTxCpuVsBaseline: ratio(results, `troupe-eos-baseline @${n} cpu`, `troupe-eos @${n} cpu`),
    sdkTxVsBaseline: ratio(results, `troupe-eos @${n}`, `troupe-eos-baseline @${n}`),
    // PostgreSQL-transactional (outbox + inbox, docs/outbox.md) over Kafka-transactional, same step.
    pgTxVsKafkaTx: ratio(results, `troupe-pg @${n}`, `troupe-eos @${n}`),
    pgTxVsKafkaTxCpu: ratio(results, `troupe-eos @${n} cpu`, `troupe-pg @${n} cpu`),
  },
  sagasPerSecond: sagaRuns.saturation.length > 0 ? Math.round(median(sagaRuns.saturation.map((r) => r.sagasPerSecond))) : null,
  sagaLatencyMs:
    sagaRuns.fixed.length > 0
      ? {
          offeredPerSecond: opts.sagaFixed.rate,
          p50: median(sagaRuns.fixed.map((r) => r.latencyMs.p50)),
          p95: median(sagaRuns.fixed.map((r) => r.latencyMs.p95)),
          p99: median(sagaRuns.fixed.map((r) => r.latencyMs.p99)),
        }
      : null,
  sagasVerified: [...sagaRuns.saturation, ...sagaRuns.fixed].every((r) => r.verified),
  sagaProblems: [...sagaRuns.saturation, ...sagaRuns.fixed].flatMap((r) => (r.problem !== undefined ? [r.problem] : [])),
  failed: process.exitCode === 1,
};
const file = await writeResult(opts.resultsDir, result);
say(`wrote ${file}`);
console.log(formatTable(results));
console.log(JSON.stringify(result));
