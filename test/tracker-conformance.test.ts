// Issue 14 item 3: deviations from the contract, found in events read from a real broker.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { SagaContract } from '@troupe/core';
import { SagaTracker, type SagaDetailResponse, type SagaListResponse } from '@troupe/saga-tracker';
import { kafkaBrokers, uniqueName, waitForValue } from '@troupe/testing';
import { SagaEventWriter, createSagaTopics, orderEvents, type SagaTopics } from './fixtures/tracker-kafka.js';
import { contracts } from './generated/events.js';

const CONTRACT: SagaContract = contracts['order-fulfillment'];

describe('tracker conformance on a real broker', () => {
  let topics: SagaTopics;
  let writer: SagaEventWriter;
  let tracker: SagaTracker | undefined;
  const run = uniqueName('conf');

  beforeAll(async () => {
    topics = await createSagaTopics('trk-conf');
    writer = await SagaEventWriter.create();
  });
  afterAll(async () => {
    await tracker?.close();
    await writer.close();
  });

  it('detects each class of deviation, lists and counts them, and leaves conforming sagas alone', async () => {
    const ev = orderEvents(topics);
    const startMs = Date.now() - 60_000;
    const chain = (id: string, specs: Parameters<typeof SagaEventWriter.chain>[1]) =>
      SagaEventWriter.chain(`${run}-${id}`, specs, { startMs });
    const authorised = { ...ev.charged, type: 'com.acme.payments.PaymentAuthorised' };
    const sagas = {
      conforming: chain('ok', [ev.placed, ev.charged, ev.reserved, ev.scheduled, ev.completed]),
      abortedEarly: chain('abort', [ev.placed, ev.charged, ev.outOfStock, ev.cancelled, ev.refunded]),
      unexpected: chain('unexpected', [ev.placed, authorised]),
      wrongParticipant: chain('wrong', [ev.placed, { ...ev.charged, source: 'inventory-service' }]),
      duplicate: chain('dup', [ev.placed, ev.charged, ev.charged]),
      missing: chain('missing', [ev.placed, ev.charged, ev.completed]),
      outOfOrder: chain('order', [ev.placed, ev.reserved, ev.charged]),
    };
    await writer.send(Object.values(sagas).flat());

    tracker = await SagaTracker.create({
      brokers: kafkaBrokers(),
      contracts: [CONTRACT],
      topics: [topics.orders, topics.payments, topics.inventory, topics.shipping],
      port: 0,
      logger: pino({ level: 'silent' }),
    });
    const base = tracker.url;
    const get = async <T>(path: string): Promise<T> => (await (await fetch(`${base}${path}`)).json()) as T;
    const total = Object.values(sagas).reduce((n, s) => n + s.length, 0);
    await waitForValue(
      async () => {
        const page = await get<SagaListResponse>(`/api/sagas?prefix=${run}-&limit=20`);
        return page.items.reduce((n, s) => n + s.eventCount, 0) === total ? true : undefined;
      },
      { description: `all ${total} events of the seven sagas`, timeoutMs: 60_000 },
    );

    const kindsOf = async (id: string) => (await get<SagaDetailResponse>(`/api/sagas/${run}-${id}`)).deviations;
    expect(await kindsOf('ok')).toEqual([]);
    expect(await kindsOf('abort')).toEqual([]);
    expect((await kindsOf('unexpected')).map((d) => [d.kind, d.message])).toEqual([
      ['unexpected-event', 'PaymentAuthorised is not an event of the order-fulfillment contract'],
    ]);
    expect((await kindsOf('wrong')).map((d) => [d.kind, d.source, d.step])).toEqual([
      ['wrong-participant', 'inventory-service', 'payment'],
    ]);
    expect((await kindsOf('dup')).map((d) => [d.kind, d.eventId])).toEqual([['duplicate-outcome', `${run}-dup-2`]]);
    expect((await kindsOf('missing')).map((d) => [d.kind, d.message])).toEqual([
      ['missing-steps', 'OrderCompleted ended the saga without steps inventory, shipping completing'],
    ]);
    expect((await kindsOf('order')).map((d) => [d.kind, d.step])).toEqual([['out-of-order', 'inventory']]);

    // The list filters by conformance and by kind.
    const deviating = await get<SagaListResponse>(`/api/sagas?prefix=${run}-&conforming=false&limit=20`);
    expect(deviating.items.map((s) => s.sagaId).sort()).toEqual(
      ['dup', 'missing', 'order', 'unexpected', 'wrong'].map((id) => `${run}-${id}`).sort(),
    );
    const dup = await get<SagaListResponse>(`/api/sagas?prefix=${run}-&deviation=duplicate-outcome`);
    expect(dup.items.map((s) => [s.sagaId, s.deviationKinds])).toEqual([[`${run}-dup`, ['duplicate-outcome']]]);
    const badKind = await fetch(`${base}/api/sagas?deviation=late`);
    expect(badKind.status).toBe(400);
    expect(((await badKind.json()) as { message: string }).message).toMatch(/not one of unexpected-event, wrong-participant/);

    // Counted in a metric, per kind.
    const metrics = await (await fetch(`${base}/metrics`)).text();
    for (const kind of ['unexpected-event', 'wrong-participant', 'duplicate-outcome', 'missing-steps', 'out-of-order']) {
      expect(metrics).toContain(`troupe_tracker_nonconforming_sagas{saga_type="order-fulfillment",kind="${kind}"} 1`);
    }
  });
});
