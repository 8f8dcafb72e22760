// Local Kafka broker start time, cold (empty jar cache) and warm (jars cached), and the cache size.
// Run: npx tsx bench/broker-start.ts        (BENCH_ROUNDS=5 by default)
// "Cold" uses a fresh temporary TROUPE_CACHE_DIR per round, so Maven copies the jars again, but
// Maven's own ~/.m2 repository stays warm: this is a re-resolve, not a first download from Maven
// Central. Each start includes Java check, storage format, JVM start, readiness and coordinator
// warm-up; "warm, no warm-up" shows the warm-up's share. Not a test: no thresholds.
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { KAFKA_VERSION, LocalKafka, ensureKafkaJars } from '@troupe/testing';

const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 5);

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

async function timedStart(options: { cacheDir?: string; warmUp?: boolean }): Promise<number> {
  const t0 = performance.now();
  const kafka = await LocalKafka.start(options);
  const elapsed = performance.now() - t0;
  await kafka.stop();
  return elapsed;
}

async function series(label: string, run: () => Promise<number>): Promise<void> {
  const times: number[] = [];
  for (let i = 0; i < ROUNDS; i += 1) times.push(await run());
  const fmt = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
  console.log(`${label.padEnd(28)} median ${fmt(median(times))}   (${times.map(fmt).join(', ')})`);
}

async function dirSize(dir: string): Promise<{ bytes: number; jars: number }> {
  let bytes = 0;
  let jars = 0;
  for (const name of await readdir(dir)) {
    bytes += (await stat(join(dir, name))).size;
    if (name.endsWith('.jar')) jars += 1;
  }
  return { bytes, jars };
}

console.log(
  `Apache Kafka ${KAFKA_VERSION}, single node, ${ROUNDS} rounds each; ${cpus().length} CPUs, load average ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`,
);
await series('cold (empty jar cache)', async () => {
  const cacheDir = await mkdtemp(join(tmpdir(), 'troupe-bench-cache-'));
  try {
    return await timedStart({ cacheDir });
  } finally {
    await rm(cacheDir, { recursive: true, force: true });
  }
});
const jars = await ensureKafkaJars();
await series('warm (jars cached)', () => timedStart({}));
await series('warm, no warm-up', () => timedStart({ warmUp: false }));
const size = await dirSize(jars.dir);
console.log(
  `load average after: ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`,
);
console.log(`jar cache ${jars.dir}: ${size.jars} jars, ${(size.bytes / 1024 / 1024).toFixed(1)} MiB`);
