import { headerString } from '@troupe/core';
import { MemorySchemaRegistry } from '@troupe/schema-registry';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DLQ_HEADER } from '../dead-letter/dead-letter.js';
import { newLedger, orderSaga, startSagaServices, type Ledger, type OrderSaga } from '../participant/order-saga.fixture.js';
import type { Participant } from '../participant/participant.js';
import { Publisher } from '../publisher/publisher.js';
import { MemoryTransport } from '../transport/memory/memory-transport.js';
import { waitUntil } from '../transport/memory/wait-until.fixture.js';
import type { InboundMessage, OutboundRecord } from '../transport/transport.js';

const silent = pino({ level: 'silent' });

/** Events of a saga by type, counted over every saga topic. */
function countsOf(transport: MemoryTransport, saga: OrderSaga, sagaId: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const topic of new Set(saga.all.map((e) => e.topic))) {
    for (const m of transport.records(topic)) {
      if (headerString(m.headers, 'ce_sagaid') !== sagaId) continue;
      const type = headerString(m.headers, 'ce_type') ?? '?';
      out[type] = (out[type] ?? 0) + 1;
    }
  }
  return out;
}

/** The record again, as a producer's retry or an operator's re-send would append it. */
function again(m: InboundMessage, changes: Partial<OutboundRecord> = {}): OutboundRecord {
  const headers: Record<string, string | Buffer> = {};
  for (const [k, v] of Object.entries(m.headers)) {
    const first = Array.isArray(v) ? v[0] : v;
    if (first !== undefined) headers[k] = first;
  }
  return { topic: m.topic, key: m.key, value: m.value, headers, ...changes };
}

describe('inbox and boundary checks on the memory transport', () => {
  let transport: MemoryTransport;
  let codec: MemorySchemaRegistry;
  let saga: OrderSaga;
  let ledger: Ledger;
  let services: Participant[];
  let publisher: Publisher;
  let metrics: Registry;

  const start = async (): Promise<Participant[]> => {
    metrics = new Registry();
    return startSagaServices({ transport, codec, saga, ledger, logger: silent, overrides: { metricsRegistry: metrics } });
  };

  beforeEach(async () => {
    transport = await MemoryTransport.create();
    codec = new MemorySchemaRegistry();
    saga = orderSaga('inbox');
    ledger = newLedger();
    services = await start();
    publisher = await Publisher.create({ transport, codec, source: 'order-service', contracts: [saga.contract] });
  });

  afterEach(async () => {
    await Promise.all(services.map((s) => s.close()));
    await transport.close();
  });

  const recordOf = (topic: string, eventId: string): InboundMessage => {
    const m = transport.records(topic).find((r) => headerString(r.headers, 'ce_id') === eventId);
    if (!m) throw new Error(`no record ${eventId} on ${topic}`);
    return m;
  };

  it('handles the same OrderPlaced published five times once: one of each downstream event, four duplicates counted', async () => {
    const placed = await publisher.publish(saga.events.OrderPlaced, { orderId: 'd-1', amount: 3 }, { sagaId: 'd-1' });
    const original = recordOf(saga.events.OrderPlaced.topic, placed.id);
    await transport.send([1, 2, 3, 4].map(() => again(original)));
    await publisher.publish(saga.events.OrderPlaced, { orderId: 'd-2', amount: 3 }, { sagaId: 'd-1-after' });
    await waitUntil(transport, () => (countsOf(transport, saga, 'd-1-after')[saga.events.ShipmentScheduled.name] ?? 0) > 0, 'later saga');
    await waitUntil(transport, () => (countsOf(transport, saga, 'd-1')[saga.events.ShipmentScheduled.name] ?? 0) > 0, 'd-1 shipped');
    expect(countsOf(transport, saga, 'd-1')).toEqual({
      [saga.events.OrderPlaced.name]: 5,
      [saga.events.PaymentCharged.name]: 1,
      [saga.events.InventoryReserved.name]: 1,
      [saga.events.ShipmentScheduled.name]: 1,
    });
    const duplicates = (await metrics.getSingleMetric('troupe_duplicates_total')?.get())?.values ?? [];
    expect(duplicates.filter((v) => v.labels['participant'] === 'payment-service').map((v) => v.value)).toEqual([4]);
  });

  it('still recognises a duplicate after the participants restart (the inbox is read back from its topic)', async () => {
    const placed = await publisher.publish(saga.events.OrderPlaced, { orderId: 'r-1', amount: 3 }, { sagaId: 'r-1' });
    await waitUntil(transport, () => (countsOf(transport, saga, 'r-1')[saga.events.ShipmentScheduled.name] ?? 0) > 0, 'r-1 shipped');
    await Promise.all(services.map((s) => s.close()));
    services = await start();
    await transport.send([again(recordOf(saga.events.OrderPlaced.topic, placed.id))]);
    await publisher.publish(saga.events.OrderPlaced, { orderId: 'r-2', amount: 3 }, { sagaId: 'r-2' });
    await waitUntil(transport, () => (countsOf(transport, saga, 'r-2')[saga.events.ShipmentScheduled.name] ?? 0) > 0, 'r-2 shipped');
    expect(countsOf(transport, saga, 'r-1')[saga.events.PaymentCharged.name]).toBe(1);
    expect(ledger.charges.filter((c) => c === 'r-1')).toHaveLength(1);
  });

  it('dead-letters records that break the boundary with a reason each, and later events flow', async () => {
    const topic = saga.events.OrderPlaced.topic;
    const good = await publisher.publish(saga.events.OrderPlaced, { orderId: 'v-0', amount: 1 }, { sagaId: 'v-0' });
    await waitUntil(transport, () => (countsOf(transport, saga, 'v-0')[saga.events.ShipmentScheduled.name] ?? 0) > 0, 'v-0 shipped');
    const base = recordOf(topic, good.id);
    const charged = transport.records(saga.events.PaymentCharged.topic).find((r) => headerString(r.headers, 'ce_sagaid') === 'v-0');
    if (!charged) throw new Error('no PaymentCharged');
    const { ce_time: _dropped, ...withoutTime } = again(base).headers;
    await transport.send([
      again(base, { key: null, headers: { ...again(base).headers, ce_id: 'no-key' }, partition: base.partition }),
      again(base, { key: '', headers: { ...again(base).headers, ce_id: 'empty-key' }, partition: base.partition }),
      again(base, { headers: { ...again(base).headers, ce_id: 'other-saga', ce_sagaid: 'v-9' } }),
      again(base, { headers: { ...withoutTime, ce_id: 'no-time' } }),
      // PaymentCharged belongs on its own topic, not on the orders topic.
      again(charged, { topic, headers: { ...again(charged).headers, ce_id: 'wrong-topic' } }),
    ]);
    await publisher.publish(saga.events.OrderPlaced, { orderId: 'v-1', amount: 1 }, { sagaId: 'v-1' });
    await waitUntil(transport, () => (countsOf(transport, saga, 'v-1')[saga.events.ShipmentScheduled.name] ?? 0) > 0, 'v-1 shipped');
    const dlq = transport
      .records(`${topic}.dlq`)
      .map((m) => [headerString(m.headers, 'ce_id'), headerString(m.headers, DLQ_HEADER.reason)]);
    expect(dlq).toEqual([
      ['no-key', 'INVALID_KEY'],
      ['empty-key', 'INVALID_KEY'],
      ['other-saga', 'SAGA_ID_MISMATCH'],
      ['no-time', 'MISSING_HEADER'],
      ['wrong-topic', 'UNEXPECTED_TYPE'],
    ]);
    expect(ledger.charges).toEqual(['v-0', 'v-1']);
  });

  it('does not record a dead-lettered event as handled: the same ce_id, fixed, is handled once', async () => {
    const topic = saga.events.OrderPlaced.topic;
    const placed = await publisher.publish(saga.events.OrderPlaced, { orderId: 'p-1', amount: 1 }, { sagaId: 'p-1' });
    await waitUntil(transport, () => (countsOf(transport, saga, 'p-1')[saga.events.ShipmentScheduled.name] ?? 0) > 0, 'p-1 shipped');
    const base = recordOf(topic, placed.id);
    // A poison record (payload undecodable) of a new saga, then the fixed record with the same ce_id, twice.
    const poison = again(base, {
      key: 'p-2',
      value: Buffer.from('not avro'),
      headers: { ...again(base).headers, ce_id: 'p-2-id', ce_sagaid: 'p-2' },
    });
    await transport.send([poison]);
    await waitUntil(transport, () => transport.records(`${topic}.dlq`).length === 1, 'dead letter');
    const fixed = again(base, { key: 'p-2', headers: { ...again(base).headers, ce_id: 'p-2-id', ce_sagaid: 'p-2' } });
    await transport.send([fixed, fixed]);
    await waitUntil(transport, () => (countsOf(transport, saga, 'p-2')[saga.events.ShipmentScheduled.name] ?? 0) > 0, 'p-2 shipped');
    await publisher.publish(saga.events.OrderPlaced, { orderId: 'p-3', amount: 1 }, { sagaId: 'p-3' });
    await waitUntil(transport, () => (countsOf(transport, saga, 'p-3')[saga.events.ShipmentScheduled.name] ?? 0) > 0, 'p-3 shipped');
    expect(countsOf(transport, saga, 'p-2')[saga.events.PaymentCharged.name]).toBe(1);
    expect(transport.records(`${topic}.dlq`)).toHaveLength(1);
  });

  it('reports the window fill per partition and counts the ids a full window forgot', async () => {
    await Promise.all(services.map((s) => s.close()));
    metrics = new Registry();
    services = await startSagaServices({
      transport,
      codec,
      saga,
      ledger,
      logger: silent,
      overrides: { metricsRegistry: metrics, inbox: { window: 2 } },
    });
    const sagas = ['w-1', 'w-2', 'w-3', 'w-4', 'w-5', 'w-6', 'w-7'];
    for (const id of sagas) await publisher.publish(saga.events.OrderPlaced, { orderId: id, amount: 1 }, { sagaId: id });
    await waitUntil(
      transport,
      () => sagas.every((id) => (countsOf(transport, saga, id)[saga.events.PaymentCharged.name] ?? 0) > 0),
      'all charged',
    );
    const inboxTopic = `payment-service-${saga.events.OrderPlaced.topic}.inbox`;
    const recorded = new Map<string, number>();
    for (const r of transport.records(inboxTopic)) recorded.set(String(r.partition), (recorded.get(String(r.partition)) ?? 0) + 1);
    const payment = (name: string) =>
      metrics
        .getSingleMetric(name)
        ?.get()
        .then((m) => m.values.filter((v) => v.labels['participant'] === 'payment-service'));
    const fill = await payment('troupe_inbox_window_ids');
    expect(new Map(fill?.map((v) => [String(v.labels['partition']), v.value]))).toEqual(
      new Map([...recorded].map(([partition, n]) => [partition, Math.min(n, 2)])),
    );
    const evicted = [...recorded.values()].reduce((sum, n) => sum + Math.max(0, n - 2), 0);
    expect(evicted).toBeGreaterThan(0);
    expect((await payment('troupe_inbox_evictions_total'))?.map((v) => v.value)).toEqual([evicted]);
  });
});

describe('InboxWindow', () => {
  it('forgets the oldest id beyond its capacity', async () => {
    const { InboxWindow } = await import('./inbox-window.js');
    const w = new InboxWindow(2);
    w.add('a');
    w.add('b');
    w.add('a');
    w.add('c');
    expect([w.has('a'), w.has('b'), w.has('c'), w.size]).toEqual([false, true, true, 2]);
  });
});
