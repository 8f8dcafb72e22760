// The 4-service order saga end to end: the demo's Kafka mode (four service processes, the tracker,
// PostgreSQL for the services' side effects) placing orders at an offered rate, then every saga's
// events read back from the saga topics to time it. A saga's latency is from its first event's
// record timestamp to its last one's; throughput is sagas ended per second once the chain is up. The demo itself checks that the tracker agrees with the ground truth.
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import { startProcess } from '../lib/proc.js';
import { percentile } from '../lib/results.js';

const DEMO = fileURLToPath(new URL('../../examples/order-fulfillment/dist/demo.js', import.meta.url));
const TOPICS = ['orders', 'payments', 'inventory', 'shipping'];

export interface SagaRun {
  readonly sagas: number;
  readonly sagasPerSecond: number;
  readonly latencyMs: { readonly p50: number; readonly p95: number; readonly p99: number };
  /** The tracker's outcome counts equal the driver's ground truth, and every saga was read back. */
  readonly verified: boolean;
  /** Why not, when not verified: the demo's exit code and last lines, and how many sagas were read back. */
  readonly problem?: string;
}

export async function runSagas(args: {
  brokers: readonly string[];
  registryUrl: string;
  databaseUrl: string;
  sagas: number;
  rate: number;
  partitions: number;
}): Promise<SagaRun> {
  const demo = startProcess(
    process.execPath,
    [
      DEMO,
      '--kafka',
      '--sagas',
      String(args.sagas),
      '--rate',
      String(args.rate),
      '--exit-when-done',
      '--port',
      '0',
      '--partitions',
      String(args.partitions),
      '--carrier-silent-rate',
      '0',
    ],
    { ...process.env, KAFKA_BROKERS: args.brokers.join(','), SCHEMA_REGISTRY_URL: args.registryUrl, DATABASE_URL: args.databaseUrl },
  );
  await new Promise<void>((resolve) => demo.child.on('exit', () => resolve()));
  const prefix = /saga ids: (\S+)\*/.exec(demo.stderr())?.[1];
  const summaryLine = demo.stdout().trim().split('\n').pop() ?? '';
  if (prefix === undefined || demo.child.exitCode === null) throw new Error(`the demo did not run: ${demo.exited() ?? ''}`);
  const agreed = demo.child.exitCode === 0 && summaryLine.startsWith('{');
  const spans = [...(await readSpans(args.brokers, prefix, args.sagas)).values()];
  // Orders are placed as soon as the tracker answers, while the services may still be joining
  // their groups: the clock starts at the first saga's end, when the whole chain is up, and the
  // latency counts only sagas that started after it (all of them if none did).
  const up = Math.min(...spans.map((s) => s.last));
  const after = spans.filter((s) => s.first >= up);
  const latencies = (after.length > 0 ? after : spans).map((s) => s.last - s.first);
  const ended = spans.filter((s) => s.last > up).length;
  const last = Math.max(...spans.map((s) => s.last));
  return {
    sagas: spans.length,
    sagasPerSecond: (ended / Math.max(1, last - up)) * 1000,
    latencyMs: { p50: percentile(latencies, 0.5), p95: percentile(latencies, 0.95), p99: percentile(latencies, 0.99) },
    verified: agreed && spans.length === args.sagas,
    ...(agreed && spans.length === args.sagas
      ? {}
      : {
          problem: `demo exit ${demo.child.exitCode}, ${spans.length}/${args.sagas} sagas read back; demo said: ${demo.stderr().trim().split('\n').slice(-3).join(' | ').slice(-600)}`,
        }),
  };
}

/** First and last record timestamp per saga id with `prefix`, read committed from the saga topics. */
async function readSpans(
  brokers: readonly string[],
  prefix: string,
  expected: number,
): Promise<Map<string, { first: number; last: number }>> {
  const kafka = new Kafka({ clientId: 'bench-saga-reader', brokers: [...brokers], logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: `bench-saga-reader-${randomBytes(4).toString('hex')}`, maxWaitTimeInMs: 200 });
  await consumer.connect();
  await consumer.subscribe({ topics: TOPICS, fromBeginning: true });
  const spans = new Map<string, { first: number; last: number }>();
  let lastBatch = Date.now();
  await consumer.run({
    eachBatch: async ({ batch }) => {
      lastBatch = Date.now();
      for (const m of batch.messages) {
        const key = m.key?.toString() ?? '';
        if (!key.startsWith(prefix)) continue;
        const ts = Number(m.timestamp);
        const s = spans.get(key);
        if (s === undefined) spans.set(key, { first: ts, last: ts });
        else {
          if (ts < s.first) s.first = ts;
          if (ts > s.last) s.last = ts;
        }
      }
      await Promise.resolve();
    },
  });
  // Earlier rounds' events are on the same topics: read until nothing new comes for 2 s.
  const deadline = Date.now() + 120_000;
  while ((spans.size < expected || Date.now() - lastBatch < 2_000) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  await consumer.disconnect();
  return spans;
}
