// Tracker ingest with 1, 2 and 3 instances sharing one PostgreSQL database and consumer group, on
// saga topics of 12 partitions each. Not a test: it prints numbers, no thresholds.
//
//   source /work/shared-env.sh   # KAFKA_BROKERS, PG*
//   BENCH_PG_URL=postgres://postgres@127.0.0.1:5432/test npx tsx bench/tracker-scale-out.ts
//
// For each instance count k: fresh topics (4 x 12 partitions), a fresh schema and group; k
// `troupe-tracker --store postgres` processes are started and the group is waited for until it is
// stable with k members; then BENCH_SAGAS sagas (5 shapes, ~4.2 events each) are written and the
// clock runs until the offsets stored with the projections (the tracker's own progress record)
// cover every record. Reported: events/s per k, and the ratio to k = 1.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { produceSagaEvents } from './contenders/tracker.js';
import { createTopics } from './lib/step.js';

const SAGAS = Number(process.env['BENCH_SAGAS'] ?? 10_000);
const PARTITIONS = 12;
const INSTANCES = (process.env['BENCH_INSTANCES'] ?? '1,2,3').split(',').map(Number);
const PG_URL = process.env['BENCH_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const brokers = (process.env['KAFKA_BROKERS'] ?? '').split(',').filter((b) => b !== '');
// BENCH_TRACKER_CLI: another build's troupe-tracker.js, to compare two versions on the same machine.
const CLI =
  process.env['BENCH_TRACKER_CLI'] ?? fileURLToPath(new URL('../packages/saga-tracker/dist/cli/troupe-tracker.js', import.meta.url));
const SCHEMAS = fileURLToPath(new URL('../schemas', import.meta.url));

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function startTracker(args: readonly string[]): { child: ChildProcess; ready: Promise<void> } {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const ready = new Promise<void>((resolve, reject) => {
    const seen = (d: Buffer): void => {
      out += d.toString();
      if (out.includes('TRACKER_URL=')) resolve();
    };
    child.stdout?.on('data', seen);
    child.stderr?.on('data', seen);
    child.on('exit', (code) => reject(new Error(`troupe-tracker exited with ${code}:\n${out}`)));
  });
  return { child, ready };
}

async function run(k: number, pool: pg.Pool, kafka: Kafka): Promise<{ events: number; seconds: number }> {
  const id = randomBytes(4).toString('hex');
  const prefix = `bench-scale-${id}`;
  const schema = `bench_scale_${id}`;
  const group = `bench-scale-${id}`;
  const topics = ['orders', 'payments', 'inventory', 'shipping'].map((t) => `${prefix}.${t}`);
  const admin = kafka.admin();
  await admin.connect();
  // Leaders elected before the trackers look (a loaded KRaft broker answers "unknown topic" for a while).
  await createTopics(admin, { topics, partitions: PARTITIONS });
  const args = [
    '--brokers',
    brokers.join(','),
    '--schemas',
    SCHEMAS,
    '--topics',
    topics.join(','),
    '--store',
    'postgres',
    '--postgres-url',
    PG_URL,
    '--postgres-schema',
    schema,
    '--group',
    group,
    '--port',
    '0',
    '--log-level',
    'warn',
  ];
  const trackers = Array.from({ length: k }, () => startTracker(args));
  try {
    await Promise.all(trackers.map((t) => t.ready));
    for (;;) {
      const g = (await admin.describeGroups([group])).groups[0];
      if (g?.state === 'Stable' && g.members.length === k) break;
      await sleep(200);
    }
    const t0 = performance.now();
    const { events } = await produceSagaEvents(brokers, { prefix, sagas: SAGAS, partitions: PARTITIONS });
    for (;;) {
      const r = await pool.query<{ n: string | null }>(`SELECT sum(next_offset)::text AS n FROM "${schema}".offsets WHERE group_id = $1`, [
        group,
      ]);
      if (Number(r.rows[0]?.n ?? 0) >= events) break;
      await sleep(100);
    }
    return { events, seconds: (performance.now() - t0) / 1000 };
  } finally {
    for (const t of trackers) t.child.kill('SIGTERM');
    await Promise.all(trackers.map((t) => new Promise((r) => (t.child.exitCode !== null ? r(null) : t.child.once('exit', r)))));
    await admin.deleteTopics({ topics }).catch(() => undefined);
    await admin.disconnect();
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  }
}

async function main(): Promise<void> {
  if (brokers.length === 0) throw new Error('set KAFKA_BROKERS (source /work/shared-env.sh or npm run bench:broker)');
  const pool = new pg.Pool({ connectionString: PG_URL, max: 2 });
  const kafka = new Kafka({ clientId: 'bench-scale', brokers, logLevel: logLevel.ERROR });
  const rows: { k: number; events: number; seconds: number; rate: number }[] = [];
  try {
    for (const k of INSTANCES) {
      const r = await run(k, pool, kafka);
      rows.push({ k, ...r, rate: r.events / r.seconds });
      console.log(
        `[scale-out] ${k} instance(s): ${r.events} events in ${r.seconds.toFixed(1)} s = ${Math.round(r.events / r.seconds)} events/s`,
      );
    }
  } finally {
    await pool.end();
  }
  const base = rows[0]?.rate ?? 1;
  console.log('\n| instances | events | seconds | events/s | vs 1 instance |\n|---|---|---|---|---|');
  for (const r of rows)
    console.log(`| ${r.k} | ${r.events} | ${r.seconds.toFixed(1)} | ${Math.round(r.rate)} | ${(r.rate / base).toFixed(2)} |`);
}

await main();
