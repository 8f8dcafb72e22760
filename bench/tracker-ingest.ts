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
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { buildTrackerApp, type SagaStore, type TrackedEvent } from '@troupe/saga-tracker';
import { ORDER_CONTRACT } from '../packages/saga-tracker/src/order-saga.fixture.js';
import { memoryStore, postgresStore, produceSagaEvents, rawConsume, sagaEvents, trackerConsume } from './contenders/tracker.js';

const SAGAS = Number(process.env['BENCH_SAGAS'] ?? 10_000);
const API_SAGAS = Number(process.env['BENCH_API_SAGAS'] ?? 100_000);
const API_REQUESTS = Number(process.env['BENCH_API_REQUESTS'] ?? 1_000);
const PG_URL = process.env['BENCH_PG_URL'];
const brokers = (process.env['KAFKA_BROKERS'] ?? '').split(',').filter((b) => b !== '');

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
  const f = (p: { p50: number; p95: number; p99: number }): string =>
    `p50 ${p.p50.toFixed(2)} ms, p95 ${p.p95.toFixed(2)} ms, p99 ${p.p99.toFixed(2)} ms`;
  console.log(`[api:${label}] list (${API_REQUESTS} requests, 5 filter mixes): ${f(pct(listMs))}`);
  for (const [path, ms] of byFilter) console.log(`[api:${label}]   ${path}: ${f(pct(ms))}`);
  console.log(`[api:${label}] list, cursor pages 1-20 of 100: ${f(pct(pageMs))}`);
  console.log(`[api:${label}] get one saga (${API_REQUESTS} random ids): ${f(pct(getMs))}`);
  await app.close();
}

async function main(): Promise<void> {
  if (brokers.length > 0) {
    const { topics, events: total } = await produceSagaEvents(brokers, {
      prefix: `bench-trk-${Date.now().toString(36)}`,
      sagas: SAGAS,
      partitions: 3,
    });
    console.log(`[ingest] ${SAGAS} sagas, ${total} events on ${topics.length} topics x 3 partitions`);
    const raw = await rawConsume(brokers, topics, total);
    console.log(`[ingest] raw kafkajs consumer (count only): ${raw.toFixed(0)} events/s`);
    const mem = await trackerConsume(brokers, await memoryStore(), { topics, total });
    console.log(`[ingest] tracker, memory store: ${mem.toFixed(0)} events/s (ratio ${(mem / raw).toFixed(2)})`);
    if (PG_URL !== undefined) {
      const { store, drop } = await postgresStore(PG_URL);
      const pgRate = await trackerConsume(brokers, store, { topics, total });
      console.log(`[ingest] tracker, postgres store: ${pgRate.toFixed(0)} events/s (ratio ${(pgRate / raw).toFixed(2)})`);
      await drop();
    }
  } else {
    console.log('[ingest] skipped: set KAFKA_BROKERS to measure ingestion');
  }
  const mem = await memoryStore();
  await apiLatency(mem, 'memory');
  await mem.close();
  if (PG_URL !== undefined) {
    const { store, schema, drop } = await postgresStore(PG_URL);
    await apiLatency(store, 'postgres', async () => {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      await c.query(`ANALYZE "${schema}".sagas`);
      await c.end();
    });
    await drop();
  }
}

await main();
