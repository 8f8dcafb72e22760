import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ORDER_CONTRACT, T_START, chain, deadLettered, shuffled, withAbort } from '../order-saga.fixture.js';
import type { Kind } from '../order-saga.fixture.js';
import { project } from '../projection/index.js';
import type { TrackedEvent } from '../tracked-event.js';
import type { FeedEntry, RetentionOptions, SagaChange, SagaStore } from './saga-store.js';

/** Builds a fresh, empty store for one test and disposes of it afterwards. */
export type StoreFactory = (opts?: { retention?: RetentionOptions }) => Promise<{ store: SagaStore; dispose: () => Promise<void> }>;

const MIN = 60_000;
const OUTCOMES: Record<string, readonly Kind[]> = {
  completed: ['placed', 'charged', 'reserved', 'scheduled', 'completed'],
  compensated: ['placed', 'charged', 'outOfStock', 'refunded', 'cancelled'],
  compensating: ['placed', 'charged', 'reserved', 'shipFailed', 'released'],
  failed: ['placed', 'charged', 'outOfStock', 'refundFailed'],
  running: ['placed', 'charged'],
};

/** Ten sagas: two of each outcome, started one minute apart, ids `o-00` … `o-09`. */
function fleet(): TrackedEvent[][] {
  const kinds = Object.values(OUTCOMES);
  return Array.from({ length: 10 }, (_, i) =>
    chain(`o-${String(i).padStart(2, '0')}`, kinds[i % kinds.length] ?? [], { startMs: T_START + i * MIN, gapMs: 1000 * (1 + (i % 3)) }),
  );
}

/**
 * The behaviour every {@link SagaStore} must share. Run from each store's test file, so the
 * memory store and the PostgreSQL store answer every question identically.
 */
export function describeSagaStoreContract(name: string, factory: StoreFactory): void {
  describe(`SagaStore contract: ${name}`, () => {
    let store: SagaStore;
    let dispose: () => Promise<void>;
    beforeEach(async () => {
      ({ store, dispose } = await factory());
    });
    afterEach(async () => {
      await dispose();
    });

    it('stores the projection of the events applied', async () => {
      const events = OUTCOMES['compensated'] ?? [];
      const saga = chain('s-1', events);
      await store.apply({ events: saga });
      const got = await store.get('s-1');
      expect(got?.projection).toEqual(project(saga, ORDER_CONTRACT));
      expect(got?.events.map((e) => e.id)).toEqual(saga.map((e) => e.id));
      expect(await store.get('nope')).toBeUndefined();
    });

    it('changes nothing when the same batch is applied again', async () => {
      const saga = chain('s-2', OUTCOMES['completed'] ?? []);
      const first = await store.apply({ events: saga });
      expect(first.map((c) => c.summary.status)).toEqual(['completed']);
      const again = await store.apply({ events: saga });
      expect(again).toEqual([]);
      expect((await store.get('s-2'))?.events).toHaveLength(saga.length);
    });

    it('converges to one projection whatever the batching and order of events', async () => {
      const all = fleet().flat();
      const dlq = deadLettered(all[1] as TrackedEvent);
      const events = shuffled([...all, dlq, ...all.slice(0, 7)], 42);
      for (let i = 0; i < events.length; i += 3) await store.apply({ events: events.slice(i, i + 3) });
      for (const saga of fleet()) {
        const id = saga[0]?.sagaId ?? '';
        const expected = project(id === dlq.sagaId ? [...saga, dlq] : saga, ORDER_CONTRACT);
        expect((await store.get(id))?.projection).toEqual(expected);
      }
    });

    it('reports each change with the previous status', async () => {
      const seen: SagaChange[] = [];
      const stop = store.onChange((c) => seen.push(...c));
      const saga = chain('s-3', OUTCOMES['compensated'] ?? []);
      await store.apply({ events: saga.slice(0, 3) });
      await store.apply({ events: saga.slice(3) });
      stop();
      await store.apply({ events: chain('s-4', ['placed']) });
      expect(seen.map((c) => [c.previous, c.summary.status])).toEqual([
        [undefined, 'compensating'],
        ['compensating', 'compensated'],
      ]);
    });

    it('streams committed changes on its feed with dense ids, resumes after an id, and reports a gap for an unknown one', async () => {
      const fromStart: FeedEntry[] = [];
      const stopA = store.watch({ changes: (e) => fromStart.push(...e) }, { after: '0' });
      const saga = chain('f-1', OUTCOMES['compensated'] ?? []);
      await store.apply({ events: saga.slice(0, 3) });
      await store.apply({ events: saga.slice(3) });
      await store.apply({ events: chain('f-2', ['placed']) });
      await expect.poll(() => fromStart.length, { timeout: 10_000 }).toBe(3);
      expect(fromStart.map((e) => [e.id, e.change.summary.sagaId, e.change.previous, e.change.summary.status])).toEqual([
        ['1', 'f-1', undefined, 'compensating'],
        ['2', 'f-1', 'compensating', 'compensated'],
        ['3', 'f-2', undefined, 'running'],
      ]);
      // A client that saw id 1 reconnects: it gets 2 and 3, then what follows.
      const resumed: FeedEntry[] = [];
      const stopB = store.watch({ changes: (e) => resumed.push(...e) }, { after: '1' });
      await expect.poll(() => resumed.map((e) => e.id), { timeout: 10_000 }).toEqual(['2', '3']);
      await store.apply({ events: chain('f-3', ['placed']) });
      await expect.poll(() => resumed.map((e) => e.id), { timeout: 10_000 }).toEqual(['2', '3', '4']);
      await expect.poll(() => fromStart.length, { timeout: 10_000 }).toBe(4);
      const gaps: string[] = [];
      const stopC = store.watch({ changes: () => undefined, gap: () => gaps.push('ahead') }, { after: '99' });
      const stopD = store.watch({ changes: () => undefined, gap: () => gaps.push('foreign') }, { after: 'abc' });
      await expect.poll(() => [...gaps].sort(), { timeout: 10_000 }).toEqual(['ahead', 'foreign']);
      for (const stop of [stopA, stopB, stopC, stopD]) stop();
    });

    it('deletes finished sagas after their retention, payloads sooner, and keeps the counters right', async () => {
      const retained = await factory({ retention: { finishedMs: 10 * MIN, payloadsMs: 2 * MIN } });
      try {
        const s = retained.store;
        const payload = Buffer.from('payload').toString('base64');
        const withPayload = (events: TrackedEvent[]) => events.map((e) => ({ ...e, payload }));
        await s.apply({ events: withPayload(chain('r-1', OUTCOMES['completed'] ?? [], { startMs: T_START })) });
        await s.apply({ events: withPayload(chain('r-2', OUTCOMES['failed'] ?? [], { startMs: T_START + 5 * MIN })) });
        await s.apply({ events: withPayload(chain('r-3', OUTCOMES['running'] ?? [], { startMs: T_START })) });
        const counted = async (now: number) => (await s.counts({ now }))[0];
        expect((await counted(T_START))?.byStatus).toMatchObject({ completed: 1, failed: 1, running: 1 });
        // r-1 ended at +4s, r-2 at +5m3s: at +7m, r-1's payloads are gone, r-2's not yet; nothing deleted.
        expect(await s.purge(T_START + 7 * MIN)).toEqual({ sagasDeleted: 0, payloadsDropped: 5 });
        expect((await s.get('r-1'))?.events.every((e) => e.payload === undefined)).toBe(true);
        expect((await s.get('r-2'))?.events.every((e) => e.payload === payload)).toBe(true);
        // At +12m r-1 is past its 10 minutes; the running saga stays whatever its age.
        expect(await s.purge(T_START + 12 * MIN)).toEqual({ sagasDeleted: 1, payloadsDropped: 4 });
        expect(await s.get('r-1')).toBeUndefined();
        expect((await s.get('r-3'))?.events.every((e) => e.payload === payload)).toBe(true);
        expect((await counted(T_START + 12 * MIN))?.byStatus).toMatchObject({ completed: 0, failed: 1, running: 1 });
        expect((await counted(T_START + 12 * MIN))?.total).toBe(2);
        expect((await counted(T_START + 12 * MIN))?.stuck).toBe(1);
      } finally {
        await retained.dispose();
      }
    });

    describe('listing', () => {
      beforeEach(async () => {
        await store.apply({ events: fleet().flat() });
        const other = chain('x-1', ['placed'], { startMs: T_START - MIN }).map((e) => ({ ...e, sagaType: 'returns' }));
        await store.apply({ events: other });
      });
      const now = T_START + 20 * MIN;
      const ids = (items: readonly { sagaId: string }[]): string[] => items.map((s) => s.sagaId);

      it('lists newest first and pages through every saga exactly once', async () => {
        const seen: string[] = [];
        let cursor: string | undefined;
        let pages = 0;
        do {
          const page = await store.list({ now, limit: 4, ...(cursor !== undefined ? { cursor } : {}) });
          seen.push(...ids(page.items));
          cursor = page.nextCursor;
          pages++;
        } while (cursor !== undefined && pages < 10);
        expect(seen).toEqual(['o-09', 'o-08', 'o-07', 'o-06', 'o-05', 'o-04', 'o-03', 'o-02', 'o-01', 'o-00', 'x-1']);
        expect(pages).toBe(3);
      });

      it('filters by type, status, id prefix and start time', async () => {
        expect(ids((await store.list({ now, type: 'returns' })).items)).toEqual(['x-1']);
        expect(ids((await store.list({ now, status: ['completed', 'failed'] })).items)).toEqual(['o-08', 'o-05', 'o-03', 'o-00']);
        expect(ids((await store.list({ now, idPrefix: 'o-0', limit: 3 })).items)).toEqual(['o-09', 'o-08', 'o-07']);
        expect(ids((await store.list({ now, startedFrom: T_START + 2 * MIN, startedTo: T_START + 4 * MIN })).items)).toEqual([
          'o-03',
          'o-02',
        ]);
      });

      it('judges stuck at the given instant, with the reason', async () => {
        // o-04 and o-09 wait for inventory (due 30s after payment); o-02 and o-07 for the refund
        // (due 30s after shipping failed).
        const early = await store.list({ now: T_START + 10_000, stuck: true });
        expect(ids(early.items)).toEqual([]);
        const late = await store.list({ now, stuck: true });
        expect(ids(late.items)).toEqual(['o-09', 'o-07', 'o-04', 'o-02']);
        expect(late.items[0]?.stuck.step).toBe('inventory');
        expect(late.items[0]?.stuck.participant).toBe('inventory-service');
        expect(ids((await store.list({ now, stuck: false, type: 'order-fulfillment' })).items)).toHaveLength(6);
      });

      it('counts sagas by status per type, with step latency percentiles', async () => {
        const [orders] = await store.stats({ type: 'order-fulfillment', now });
        expect(orders?.total).toBe(10);
        expect(orders?.byStatus).toEqual({ running: 2, completed: 2, compensating: 2, compensated: 2, failed: 2 });
        expect(orders?.stuck).toBe(4);
        const payment = orders?.steps.find((s) => s.step === 'payment');
        // gaps of 1s, 2s, 3s by saga index: payment latency is the gap.
        expect(payment).toEqual({ step: 'payment', count: 10, p50: 2000, p95: 3000, p99: 3000 });
        const all = await store.stats({ now });
        expect(all.map((s) => [s.sagaType, s.total])).toEqual([
          ['order-fulfillment', 10],
          ['returns', 1],
        ]);
        expect(await store.types()).toEqual(['order-fulfillment', 'returns']);
      });

      it('filters by conformance and counts deviations per kind', async () => {
        // o-10 skips inventory (out of order, then a completion with steps missing); o-11 has two charges.
        await store.apply({ events: chain('o-10', ['placed', 'charged', 'scheduled', 'completed'], { startMs: T_START + 10 * MIN }) });
        await store.apply({ events: chain('o-11', ['placed', 'charged', 'charged'], { startMs: T_START + 11 * MIN }) });
        expect(ids((await store.list({ now, conforming: false })).items)).toEqual(['o-11', 'o-10']);
        expect(ids((await store.list({ now, deviation: 'duplicate-outcome' })).items)).toEqual(['o-11']);
        expect(ids((await store.list({ now, conforming: true, type: 'order-fulfillment', limit: 3 })).items)).toEqual([
          'o-09',
          'o-08',
          'o-07',
        ]);
        const [o10] = (await store.list({ now, idPrefix: 'o-10' })).items;
        expect(o10?.deviationKinds).toEqual(['missing-steps', 'out-of-order']);
        const [orders] = await store.stats({ type: 'order-fulfillment', now });
        expect(orders?.nonConforming).toBe(2);
        // The counters a scrape reads agree with the scan.
        const [counted] = await store.counts({ type: 'order-fulfillment', now });
        expect(counted).toEqual({
          sagaType: 'order-fulfillment',
          total: orders?.total,
          byStatus: orders?.byStatus,
          stuck: orders?.stuck,
          nonConforming: 2,
          deviations: orders?.deviations,
        });
        expect(orders?.deviations).toEqual({
          'unexpected-event': 0,
          'wrong-participant': 0,
          'duplicate-outcome': 1,
          'missing-steps': 1,
          'out-of-order': 1,
        });
      });

      it('searches by contract attributes, participant, event type and failure reason', async () => {
        const withAttributes = (id: string, kinds: readonly Kind[], attributes: Record<string, string>, minute: number) =>
          chain(id, kinds, { startMs: T_START + minute * MIN }).map((e) => (e.role === 'start' ? { ...e, attributes } : e));
        await store.apply({
          events: [
            ...withAttributes('a-1', ['placed', 'charged'], { customerId: '42', country: 'DE' }, 12),
            ...withAttributes('a-2', ['placed', 'declined'], { customerId: '42', country: 'FR' }, 13),
            ...withAttributes('a-3', ['placed'], { customerId: '7', country: 'DE' }, 14),
          ],
        });
        expect(ids((await store.list({ now, attributes: { customerId: '42' } })).items)).toEqual(['a-2', 'a-1']);
        expect(ids((await store.list({ now, attributes: { customerId: '42', country: 'DE' } })).items)).toEqual(['a-1']);
        expect(ids((await store.list({ now, attributes: { country: 'DE' }, limit: 1 })).items)).toEqual(['a-3']);
        const [a1] = (await store.list({ now, attributes: { country: 'DE' }, status: ['running'], idPrefix: 'a-1' })).items;
        expect(a1?.attributes).toEqual({ customerId: '42', country: 'DE' });
        // shipping-service emitted events only in the completed and compensating sagas.
        expect(ids((await store.list({ now, participant: 'shipping-service' })).items)).toEqual(['o-07', 'o-05', 'o-02', 'o-00']);
        expect(ids((await store.list({ now, eventType: 'com.acme.payments.PaymentDeclined' })).items)).toEqual(['a-2']);
        expect(ids((await store.list({ now, reason: 'BANK OFFLINE' })).items)).toEqual(['o-08', 'o-03']);
        expect(ids((await store.list({ now, reason: 'stock', participant: 'inventory-service', status: ['failed'] })).items)).toEqual([
          'o-08',
          'o-03',
        ]);
      });

      it('shows who ended a saga early and why, in the list and the detail, and finds it by that reason', async () => {
        const ended = (id: string, minute: number, abort: Parameters<typeof withAbort>[1]) =>
          chain(id, ['placed', 'charged', 'reserved', 'cancelled', 'refunded', 'released'], { startMs: T_START + minute * MIN }).map((e) =>
            e.role === 'end' ? withAbort(e, abort) : e,
          );
        await store.apply({
          events: [
            ...ended('t-1', 15, {
              cause: 'within',
              step: 'shipping',
              reason: 'step shipping did not answer within 1m',
              by: 'order-service',
            }),
            ...ended('t-2', 16, { cause: 'operator', step: 'shipping', reason: 'customer called', by: 'alice' }),
          ],
        });
        const listed = (await store.list({ now, idPrefix: 't-' })).items;
        expect(listed.map((s) => [s.sagaId, s.status, s.abort])).toEqual([
          ['t-2', 'compensated', { kind: 'operator', cause: 'operator', step: 'shipping', reason: 'customer called', by: 'alice' }],
          [
            't-1',
            'compensated',
            { kind: 'timeout', cause: 'within', step: 'shipping', reason: 'step shipping did not answer within 1m', by: 'order-service' },
          ],
        ]);
        expect((await store.get('t-1'))?.projection.abort).toMatchObject({ kind: 'timeout', type: 'com.acme.orders.OrderCancelled' });
        // Sagas that ended on their own say nothing about an abort.
        expect((await store.list({ now, idPrefix: 'o-0' })).items.filter((s) => s.abort !== undefined)).toEqual([]);
        expect(ids((await store.list({ now, reason: 'did not answer' })).items)).toEqual(['t-1']);
        expect(ids((await store.list({ now, reason: 'Customer Called' })).items)).toEqual(['t-2']);
      });

      it('aggregates the observed flow of a type', async () => {
        const flow = await store.flow('order-fulfillment');
        expect(flow.sagas).toBe(10);
        const edge = (from: string, to: string) => flow.edges.find((e) => e.from.endsWith(from) && e.to.endsWith(to));
        expect(edge('OrderPlaced', 'PaymentCharged')?.count).toBe(10);
        expect(edge('PaymentCharged', 'InventoryReserved')?.count).toBe(4);
        expect(edge('PaymentCharged', 'InventoryReservationFailed')?.count).toBe(4);
        expect(edge('InventoryReserved', 'ShipmentScheduled')).toMatchObject({ count: 2, p50: 1000, p99: 3000 });
      });

      it('counts each step by state and the sagas awaiting it, in contract order', async () => {
        const counts = (await store.flow('order-fulfillment')).steps.map((s) => [s.step, s.awaiting, s.byStatus, s.deviations]);
        const st = ([pending, completed, failed, compensated, compensationFailed]: readonly number[]) => ({
          pending,
          completed,
          failed,
          compensated,
          'compensation-failed': compensationFailed,
        });
        // Two sagas of each outcome: the compensating ones await payment's undo, the running ones inventory.
        expect(counts).toEqual([
          ['payment', 2, st([0, 6, 0, 2, 2]), 0],
          ['inventory', 2, st([2, 2, 4, 2, 0]), 0],
          ['shipping', 0, st([6, 2, 2, 0, 0]), 0],
        ]);
      });

      it('counts sagas started and ended by outcome per time bucket', async () => {
        const buckets = await store.activity({ type: 'order-fulfillment', from: T_START, bucketMs: 2 * MIN, buckets: 6 });
        expect(buckets.map((b) => [b.at, b.started, b.completed, b.compensated, b.failed])).toEqual([
          ['2026-11-23T09:00:00.000Z', 2, 1, 1, 0],
          ['2026-11-23T09:02:00.000Z', 2, 0, 0, 1],
          ['2026-11-23T09:04:00.000Z', 2, 1, 0, 0],
          ['2026-11-23T09:06:00.000Z', 2, 0, 1, 0],
          ['2026-11-23T09:08:00.000Z', 2, 0, 0, 1],
          ['2026-11-23T09:10:00.000Z', 0, 0, 0, 0],
        ]);
        // Every type: the 'returns' saga started a minute before T_START.
        expect((await store.activity({ from: T_START - 2 * MIN, bucketMs: 2 * MIN, buckets: 1 }))[0]?.started).toBe(1);
        await expect(store.activity({ from: T_START + 1, bucketMs: MIN, buckets: 1 })).rejects.toMatchObject({ code: 'INVALID_QUERY' });
      });
    });
  });
}
