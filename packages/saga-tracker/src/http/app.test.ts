import { get } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TrackerMetrics } from '../metrics.js';
import { ORDER_CONTRACT, ORDER_CONTRACT_PARALLEL, T_START, chain } from '../order-saga.fixture.js';
import { MemorySagaStore } from '../store/memory-store.js';
import type { FastifyInstance } from 'fastify';
import { buildTrackerApp } from './app.js';

const NOW = T_START + 10 * 60_000;

describe('tracker HTTP API', () => {
  let store: MemorySagaStore;
  let app: FastifyInstance;
  beforeEach(async () => {
    store = await MemorySagaStore.create({ contracts: [ORDER_CONTRACT] });
    await store.apply({
      events: [
        ...chain('o-1', ['placed', 'charged', 'reserved', 'scheduled', 'completed']),
        ...chain('o-2', ['placed', 'charged', 'outOfStock', 'refunded', 'cancelled'], { startMs: T_START + 60_000 }),
        ...chain('o-3', ['placed', 'charged'], { startMs: T_START + 120_000 }),
      ],
    });
    app = buildTrackerApp({ store, contracts: [ORDER_CONTRACT], now: () => NOW, metrics: new TrackerMetrics(store, () => NOW) });
  });
  afterEach(async () => {
    await app.close();
    await store.close();
  });

  const json = async (url: string): Promise<{ status: number; body: Record<string, unknown> }> => {
    const res = await app.inject({ method: 'GET', url });
    return { status: res.statusCode, body: res.json<Record<string, unknown>>() };
  };

  it('answers the overview chart in whole-minute buckets ending with the current one', async () => {
    const { status, body } = await json('/api/activity?minutes=15&type=order-fulfillment');
    expect(status).toBe(200);
    const buckets = body['buckets'] as { at: string; started: number; completed: number; compensated: number }[];
    expect(body['bucketMs']).toBe(60_000);
    expect(buckets).toHaveLength(15);
    expect(buckets.at(-1)?.at).toBe(new Date(NOW).toISOString());
    expect(buckets.reduce((n, b) => n + b.started, 0)).toBe(3);
    expect(buckets.reduce((n, b) => n + b.completed + b.compensated, 0)).toBe(2);
    const day = await json('/api/activity?minutes=1440');
    expect([day.body['bucketMs'], (day.body['buckets'] as unknown[]).length]).toEqual([24 * 60_000, 60]);
  });

  it('answers the flow with the contract stages and per-step counts', async () => {
    const { body } = await json('/api/types/order-fulfillment/flow');
    expect(body['stages']).toEqual([['payment'], ['inventory'], ['shipping']]);
    expect(body['steps']).toMatchObject([
      { step: 'payment', awaiting: 0, byStatus: { completed: 2, compensated: 1 } },
      { step: 'inventory', awaiting: 1, byStatus: { completed: 1, failed: 1 } },
      { step: 'shipping', awaiting: 0, byStatus: { completed: 1, pending: 2 } },
    ]);
  });

  it('draws a parallel group as one stage with its branches side by side, each awaited on its own', async () => {
    const parallel = await MemorySagaStore.create({ contracts: [ORDER_CONTRACT_PARALLEL] });
    await parallel.apply({ events: [...chain('q-1', ['placed', 'reserved']), ...chain('q-2', ['placed'], { startMs: T_START + 1000 })] });
    const api = buildTrackerApp({ store: parallel, contracts: [ORDER_CONTRACT_PARALLEL], now: () => NOW });
    try {
      const body = (await api.inject({ method: 'GET', url: '/api/types/order-fulfillment/flow' })).json<Record<string, unknown>>();
      expect(body['stages']).toEqual([['payment', 'inventory'], ['shipping']]);
      expect(body['steps']).toMatchObject([
        { step: 'payment', awaiting: 2 },
        { step: 'inventory', awaiting: 1, byStatus: { completed: 1 } },
        { step: 'shipping', awaiting: 0 },
      ]);
    } finally {
      await api.close();
      await parallel.close();
    }
  });

  it('lists sagas with filters and a cursor', async () => {
    const all = await json('/api/sagas?limit=2');
    expect(all.status).toBe(200);
    const items = all.body['items'] as { sagaId: string }[];
    expect(items.map((s) => s.sagaId)).toEqual(['o-3', 'o-2']);
    const next = await json(`/api/sagas?limit=2&cursor=${String(all.body['nextCursor'])}`);
    expect((next.body['items'] as { sagaId: string }[]).map((s) => s.sagaId)).toEqual(['o-1']);
    const stuck = await json('/api/sagas?stuck=true&type=order-fulfillment');
    expect(stuck.body['items']).toMatchObject([{ sagaId: 'o-3', status: 'running', stuck: { stuck: true, step: 'inventory' } }]);
    const byStatus = await json('/api/sagas?status=completed,compensated&prefix=o-');
    expect((byStatus.body['items'] as { sagaId: string }[]).map((s) => s.sagaId)).toEqual(['o-2', 'o-1']);
    const range = await json(`/api/sagas?from=${new Date(T_START + 30_000).toISOString()}&to=${T_START + 90_000}`);
    expect((range.body['items'] as { sagaId: string }[]).map((s) => s.sagaId)).toEqual(['o-2']);
  });

  it.each([
    ['/api/sagas?status=done', "status 'done' is not one of"],
    ['/api/sagas?stuck=yes', "'stuck' must be true or false"],
    ['/api/sagas?limit=0', "'limit' must be an integer from 1 to 500"],
    ['/api/sagas?from=yesterday', "'from' must be an ISO-8601 time"],
    ['/api/sagas?from=2026-11-24T00:00:00Z&to=2026-11-23T00:00:00Z', "'from' must be before 'to'"],
    ['/api/sagas?cursor=garbage', 'is not one this tracker issued'],
    ['/api/sagas?colour=red', "unknown query parameter 'colour'"],
    ['/api/sagas/o-1?payloads=maybe', "'payloads' must be true or false"],
    ['/api/stats?kind=x', "unknown query parameter 'kind'"],
    ['/api/activity?minutes=0', "'minutes' must be an integer from 1 to 10080"],
    ['/api/activity?window=1h', "unknown query parameter 'window'"],
    ['/api/stream?after=3', "unknown query parameter 'after'"],
  ])('answers %s with 400 and a message', async (url, message) => {
    const res = await json(url);
    expect(res.status).toBe(400);
    expect(res.body['error']).toBe('INVALID_QUERY');
    expect(String(res.body['message'])).toContain(message);
  });

  it('shows one saga with timeline, steps, causal graph and stuck reason', async () => {
    const res = await json('/api/sagas/o-3');
    expect(res.status).toBe(200);
    expect(res.body['status']).toBe('running');
    expect((res.body['timeline'] as { type: string }[]).map((e) => e.type)).toEqual([
      'com.acme.orders.OrderPlaced',
      'com.acme.payments.PaymentCharged',
    ]);
    expect((res.body['steps'] as { name: string; status: string }[]).map((s) => [s.name, s.status])).toEqual([
      ['payment', 'completed'],
      ['inventory', 'pending'],
      ['shipping', 'pending'],
    ]);
    expect((res.body['causal'] as { edges: unknown[] }).edges).toEqual([{ from: 'o-3-0-placed', to: 'o-3-1-charged', missing: false }]);
    expect((res.body['stuck'] as { reason: string }).reason).toMatch(
      /^waiting 7m 59s for InventoryReserved or InventoryReservationFailed from inventory-service/,
    );
    expect(res.body['contract']).toMatchObject({ saga: 'order-fulfillment' });
    expect((await json('/api/sagas/none')).status).toBe(404);
  });

  it('reports per-type stats, types and the observed flow', async () => {
    const stats = await json('/api/stats?type=order-fulfillment');
    expect(stats.body['types']).toMatchObject([
      { sagaType: 'order-fulfillment', total: 3, stuck: 1, byStatus: { running: 1, completed: 1, compensated: 1 } },
    ]);
    const types = await json('/api/types');
    expect(types.body['types']).toMatchObject([{ name: 'order-fulfillment', contract: { start: 'com.acme.orders.OrderPlaced' } }]);
    const flow = await json('/api/types/order-fulfillment/flow');
    expect(flow.body['sagas']).toBe(3);
    expect(flow.body['edges']).toContainEqual({
      from: 'com.acme.orders.OrderPlaced',
      to: 'com.acme.payments.PaymentCharged',
      count: 3,
      p50: 1000,
      p95: 1000,
      p99: 1000,
    });
  });

  it('serves health, metrics and the web page; offers no way to change anything', async () => {
    expect((await json('/health')).body).toMatchObject({ status: 'ok', store: { kind: 'memory', ok: true } });
    const metrics = await app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toContain('troupe_tracker_sagas{saga_type="order-fulfillment",status="running"} 1');
    expect(metrics.body).toContain('troupe_tracker_process_resident_memory_bytes');
    const page = await app.inject({ method: 'GET', url: '/' });
    expect(page.headers['content-type']).toContain('text/html');
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH'] as const) {
      expect((await app.inject({ method, url: '/api/sagas/o-1' })).statusCode).toBe(404);
    }
  });

  it('reports unhealthy when ingestion is down', async () => {
    const sick = buildTrackerApp({ store, health: () => ({ ok: false, consumer: 'crashed' }) });
    const res = await sick.inject({ method: 'GET', url: '/health' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ status: 'unavailable', ingest: { consumer: 'crashed' } });
    await sick.close();
  });

  it('streams saga changes over server-sent events, and close() ends open streams', async () => {
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as AddressInfo;
    let ended: () => void = () => undefined;
    const streamEnded = new Promise<void>((r) => (ended = r));
    const received = await new Promise<string>((resolve, reject) => {
      const req = get(`http://127.0.0.1:${port}/api/stream`, (res) => {
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buf += chunk;
          if (buf.includes('event: hello') && !buf.includes('event: saga')) {
            void store.apply({ events: chain('o-4', ['placed']) });
          }
          if (buf.includes('event: saga')) resolve(buf);
        });
        res.on('end', () => ended());
        res.resume();
      });
      req.on('error', reject);
    });
    // close() must not wait on the open stream; it ends it (a hang here fails the test by timeout).
    await app.close();
    await streamEnded;
    const data = /event: saga\ndata: (.*)\n/.exec(received)?.[1] ?? '{}';
    expect(JSON.parse(data)).toMatchObject({ summary: { sagaId: 'o-4', status: 'running' } });
  });
});
