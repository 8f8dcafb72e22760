// Tracker throughput and API latency. Not a test: it prints numbers, no thresholds.
//
//   KAFKA_BROKERS=127.0.0.1:9092 npx tsx bench/tracker-ingest.ts
//
// 1. Ingest: writes BENCH_SAGAS sagas (5 events each, 4 topics x 3 partitions), then reads them
//    (a) with a bare kafkajs consumer that only counts records and (b) with the tracker's Kafka
//    ingestion into the memory store (and the postgres store when BENCH_PG_URL is set). Reports
//    events/s and the tracker/raw ratio.
// 2. API: loads BENCH_API_SAGAS sagas into a store and times GET /api/sagas (several filters) and
//    GET /api/sagas/:id over loopback HTTP, sequentially; reports p50/p95/p99 (ms).
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { Kafka, Partitioners, logLevel } from 'kafkajs';
import pg from 'pg';
import { pino } from 'pino';
import { toHeaders, type EventEnvelope } from '@troupe/core';
import {
  KafkaIngest,
  MemorySagaStore,
  PostgresSagaStore,
  buildTrackerApp,
  type SagaStore,
  type TrackedEvent,
} from '@troupe/saga-tracker';
import { ORDER_CONTRACT, chain, type Kind } from '../packages/saga-tracker/src/order-saga.fixture.js';

const SAGAS = Number(process.env['BENCH_SAGAS'] ?? 10_000);
const API_SAGAS = Number(process.env['BENCH_API_SAGAS'] ?? 100_000);
const API_REQUESTS = Number(process.env['BENCH_API_REQUESTS'] ?? 1_000);
const PG_URL = process.env['BENCH_PG_URL'];
const brokers = (process.env['KAFKA_BROKERS'] ?? '').split(',').filter((b) => b !== '');
const silent = pino({ level: 'silent' });

const SHAPES: readonly (readonly Kind[])[] = [
  ['placed', 'charged', 'reserved', 'scheduled', 'completed'],
  ['placed', 'charged', 'outOfStock', 'refunded', 'cancelled'],
  ['placed', 'charged', 'reserved', 'shipFailed', 'released'],
  ['placed', 'declined', 'cancelled'],
  ['placed', 'charged'],
];

function sagaEvents(i: number, prefix: string, startMs: number): TrackedEvent[] {
  return chain(`${prefix}-${String(i).padStart(7, '0')}`, SHAPES[i % SHAPES.length] ?? [], { startMs: startMs + i * 10, gapMs: 50 + (i % 200) });
}

async function produce(kafka: Kafka, topicOf: (t: string) => string): Promise<number> {
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  let n = 0;
  const start = Date.now() - 3_600_000;
  for (let i = 0; i < SAGAS; i += 500) {
    const byTopic = new Map<string, { key: string; value: Buffer; headers: Record<string, string> }[]>();
    for (let j = i; j < Math.min(SAGAS, i + 500); j++) {
      for (const e of sagaEvents(j, 'bench', start)) {
        const env: EventEnvelope = {
          id: e.id,
          source: e.source,
          type: e.type,
          time: e.time,
          sagaId: e.sagaId,
          sagaType: e.sagaType,
          sagaRole: e.role,
          ...(e.step !== undefined ? { sagaStep: e.step } : {}),
          ...(e.causationId !== undefined ? { causationId: e.causationId } : {}),
        };
        const topic = topicOf(e.topic);
        let list = byTopic.get(topic);
        if (list === undefined) byTopic.set(topic, (list = []));
        list.push({ key: e.sagaId, value: randomBytes(120), headers: toHeaders(env) });
        n++;
      }
    }
    await producer.sendBatch({ topicMessages: [...byTopic.entries()].map(([topic, messages]) => ({ topic, messages })) });
  }
  await producer.disconnect();
  return n;
}

async function rawConsume(kafka: Kafka, topics: readonly string[], total: number): Promise<number> {
  const consumer = kafka.consumer({ groupId: `bench-raw-${randomBytes(4).toString('hex')}`, maxWaitTimeInMs: 250 });
  const t0 = performance.now();
  await consumer.connect();
  await consumer.subscribe({ topics: [...topics], fromBeginning: true });
  let seen = 0;
  let t1 = 0;
  await new Promise<void>((resolve) => {
    void consumer.run({
      eachBatch: async ({ batch }) => {
        seen += batch.messages.length;
        if (seen >= total && t1 === 0) {
          t1 = performance.now();
          resolve();
        }
        await Promise.resolve();
      },
    });
  });
  await consumer.disconnect();
  return (total / (t1 - t0)) * 1000;
}

async function trackerConsume(store: SagaStore, topics: readonly string[], total: number): Promise<number> {
  const t0 = performance.now();
  const ingest = await KafkaIngest.create({ brokers, store, topics, groupId: `bench-trk-${randomBytes(4).toString('hex')}`, topicRefreshMs: 0, logger: silent });
  while (ingest.eventsApplied < total) await new Promise((r) => setTimeout(r, 20));
  const t1 = performance.now();
  await ingest.close();
  return (total / (t1 - t0)) * 1000;
}

function pct(values: number[]): { p50: number; p95: number; p99: number } {
  const s = [...values].sort((a, b) => a - b);
  const at = (p: number): number => s[Math.max(0, Math.ceil(p * s.length) - 1)] ?? Number.NaN;
  return { p50: at(0.5), p95: at(0.95), p99: at(0.99) };
}

async function apiLatency(store: SagaStore, label: string, analyze?: () => Promise<void>): Promise<void> {
  const startMs = Date.now() - 24 * 3_600_000;
  const t0 = performance.now();
  for (let i = 0; i < API_SAGAS; i += 1000) {
    const events: TrackedEvent[] = [];
    for (let j = i; j < Math.min(API_SAGAS, i + 1000); j++) events.push(...sagaEvents(j, 'api', startMs));
    await store.apply({ events });
  }
  console.log(`[api:${label}] loaded ${API_SAGAS} sagas in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  // Planner statistics after a bulk load, as autovacuum would gather them shortly after.
  if (store.kind === 'postgres' && analyze !== undefined) await analyze();
  const app = buildTrackerApp({ store, contracts: [ORDER_CONTRACT] });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const time = async (path: string): Promise<number> => {
    const s = performance.now();
    const res = await fetch(`${base}${path}`);
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
    return performance.now() - s;
  };
  const lists = [
    '/api/sagas?limit=50',
    '/api/sagas?limit=50&status=running',
    '/api/sagas?limit=50&stuck=true',
    '/api/sagas?limit=50&prefix=api-00012',
    '/api/sagas?limit=50&status=failed,compensating&type=order-fulfillment',
  ];
  for (let i = 0; i < 50; i++) await time(lists[i % lists.length] ?? '');
  const listMs: number[] = [];
  const byFilter = new Map<string, number[]>(lists.map((l) => [l, []]));
  for (let i = 0; i < API_REQUESTS; i++) {
    const path = lists[i % lists.length] ?? '';
    const ms = await time(path);
    listMs.push(ms);
    byFilter.get(path)?.push(ms);
  }
  // Paging deep: follow cursors 20 pages in.
  let cursor: string | undefined;
  const pageMs: number[] = [];
  for (let i = 0; i < 20; i++) {
    const s = performance.now();
    const res = await fetch(`${base}/api/sagas?limit=100${cursor !== undefined ? `&cursor=${cursor}` : ''}`);
    const body = (await res.json()) as { nextCursor?: string };
    pageMs.push(performance.now() - s);
    cursor = body.nextCursor;
  }
  const getMs: number[] = [];
  for (let i = 0; i < API_REQUESTS; i++) {
    const id = `api-${String(Math.floor(Math.random() * API_SAGAS)).padStart(7, '0')}`;
    getMs.push(await time(`/api/sagas/${id}`));
  }
  const f = (p: { p50: number; p95: number; p99: number }): string => `p50 ${p.p50.toFixed(2)} ms, p95 ${p.p95.toFixed(2)} ms, p99 ${p.p99.toFixed(2)} ms`;
  console.log(`[api:${label}] list (${API_REQUESTS} requests, 5 filter mixes): ${f(pct(listMs))}`);
  for (const [path, ms] of byFilter) console.log(`[api:${label}]   ${path}: ${f(pct(ms))}`);
  console.log(`[api:${label}] list, cursor pages 1-20 of 100: ${f(pct(pageMs))}`);
  console.log(`[api:${label}] get one saga (${API_REQUESTS} random ids): ${f(pct(getMs))}`);
  await app.close();
}

async function main(): Promise<void> {
  if (brokers.length > 0) {
    const kafka = new Kafka({ clientId: 'bench', brokers, logLevel: logLevel.ERROR });
    const admin = kafka.admin();
    await admin.connect();
    const prefix = `bench-trk-${Date.now().toString(36)}`;
    const topicOf = (t: string): string => `${prefix}.${t}`;
    const topics = ['orders', 'payments', 'inventory', 'shipping'].map(topicOf);
    await admin.createTopics({ waitForLeaders: true, topics: topics.map((topic) => ({ topic, numPartitions: 3 })) });
    await admin.disconnect();
    const total = await produce(kafka, topicOf);
    console.log(`[ingest] ${SAGAS} sagas, ${total} events on ${topics.length} topics x 3 partitions`);
    const raw = await rawConsume(kafka, topics, total);
    console.log(`[ingest] raw kafkajs consumer (count only): ${raw.toFixed(0)} events/s`);
    const mem = await trackerConsume(await MemorySagaStore.create({ contracts: [ORDER_CONTRACT] }), topics, total);
    console.log(`[ingest] tracker, memory store: ${mem.toFixed(0)} events/s (ratio ${(mem / raw).toFixed(2)})`);
    if (PG_URL !== undefined) {
      const schema = `bench_${randomBytes(4).toString('hex')}`;
      const store = await PostgresSagaStore.create({ connectionString: PG_URL, schema, contracts: [ORDER_CONTRACT] });
      const pgRate = await trackerConsume(store, topics, total);
      console.log(`[ingest] tracker, postgres store: ${pgRate.toFixed(0)} events/s (ratio ${(pgRate / raw).toFixed(2)})`);
      await store.close();
      await dropSchema(schema);
    }
  } else {
    console.log('[ingest] skipped: set KAFKA_BROKERS to measure ingestion');
  }
  const mem = await MemorySagaStore.create({ contracts: [ORDER_CONTRACT] });
  await apiLatency(mem, 'memory');
  await mem.close();
  if (PG_URL !== undefined) {
    const schema = `bench_${randomBytes(4).toString('hex')}`;
    const store = await PostgresSagaStore.create({ connectionString: PG_URL, schema, contracts: [ORDER_CONTRACT] });
    await apiLatency(store, 'postgres', async () => {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      await c.query(`ANALYZE "${schema}".sagas`);
      await c.end();
    });
    await store.close();
    await dropSchema(schema);
  }
}

async function dropSchema(schema: string): Promise<void> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await c.end();
}

await main();
