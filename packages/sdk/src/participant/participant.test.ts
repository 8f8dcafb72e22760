import { headerString, parseEnvelope, type EventEnvelope } from '@troupe/core';
import { MemorySchemaRegistry } from '@troupe/schema-registry';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { DLQ_HEADER } from '../dead-letter/dead-letter.js';
import { on } from './handlers.js';
import { MemoryTransport } from '../transport/memory/memory-transport.js';
import { waitUntil } from '../transport/memory/wait-until.fixture.js';
import { OperationsServer } from '../operations/operations-server.js';
import { newLedger, orderSaga, startSagaServices, type Ledger, type OrderSaga } from './order-saga.fixture.js';
import { Participant } from './participant.js';
import { Publisher } from '../publisher/publisher.js';
import { ROUTING_SLIP_HEADER } from './routing-slip.js';
import type { InboundMessage } from '../transport/transport.js';

const silent = pino({ level: 'silent' });

const envelopes = (transport: MemoryTransport, saga: OrderSaga, sagaId: string): (EventEnvelope & { msg: InboundMessage })[] =>
  [...new Set(saga.all.map((e) => e.topic))]
    .flatMap((topic) => transport.records(topic))
    .flatMap((msg) => {
      try {
        return [{ ...parseEnvelope(msg.headers), msg }];
      } catch {
        return []; // poison records planted by a test
      }
    })
    .filter((e) => e.sagaId === sagaId);

describe('Participant on the memory transport', () => {
  let transport: MemoryTransport;
  let codec: MemorySchemaRegistry;
  let saga: OrderSaga;
  let ledger: Ledger;
  let services: Participant[];
  let publisher: Publisher;

  beforeEach(async () => {
    transport = await MemoryTransport.create();
    codec = new MemorySchemaRegistry();
    saga = orderSaga('u');
    ledger = newLedger();
    services = await startSagaServices({ transport, codec, saga, ledger, logger: silent });
    publisher = await Publisher.create({ transport, codec, source: 'order-service', contracts: [saga.contract] });
  });

  afterEach(async () => {
    await Promise.all(services.map((s) => s.close()));
    await transport.close();
  });

  it('runs the happy path: one event per step, same key, causation chain and trace', async () => {
    const start = await publisher.publish(saga.events.OrderPlaced, { orderId: 'o-1', amount: 42 }, { sagaId: 'o-1' });
    await waitUntil(
      transport,
      () => envelopes(transport, saga, 'o-1').some((e) => e.type === saga.events.ShipmentScheduled.name),
      'ShipmentScheduled',
    );

    const evs = envelopes(transport, saga, 'o-1');
    expect(evs.map((e) => e.type)).toEqual([
      saga.events.OrderPlaced.name,
      saga.events.PaymentCharged.name,
      saga.events.InventoryReserved.name,
      saga.events.ShipmentScheduled.name,
    ]);
    expect(start.sagaRole).toBe('start');
    expect(start.sagaType).toBe('order-fulfillment');
    const [placed, charged, reserved, shipped] = evs;
    expect(charged?.causationId).toBe(placed?.id);
    expect(reserved?.causationId).toBe(charged?.id);
    expect(shipped?.causationId).toBe(reserved?.id);
    expect(evs.map((e) => [e.sagaRole, e.sagaStep ?? null])).toEqual([
      ['start', null],
      ['step-completed', 'payment'],
      ['step-completed', 'inventory'],
      ['step-completed', 'shipping'],
    ]);
    expect(new Set(evs.map((e) => e.traceparent)).size).toBe(1);
    expect(new Set(evs.map((e) => e.msg.partition)).size).toBe(1);
    expect(evs.every((e) => e.msg.key?.toString() === 'o-1')).toBe(true);
    expect(shipped?.source).toBe('shipping-service');
    expect(ledger).toMatchObject({ charges: ['o-1'], reservations: ['o-1'], shipments: ['o-1'], refunds: [], releases: [] });
    // The routing slip carries the earlier steps' logs forward.
    expect(JSON.parse(headerString(shipped?.msg.headers, ROUTING_SLIP_HEADER) ?? '{}')).toEqual({
      payment: { chargeId: 'ch-o-1' },
      inventory: { reservationId: 'res-o-1' },
    });
  });

  it('compensates earlier steps with the logs they recorded when a later step fails', async () => {
    await publisher.publish(saga.events.OrderPlaced, { orderId: 'o-2-fail-shipping', amount: 5 }, { sagaId: 'o-2' });
    await waitUntil(
      transport,
      () => {
        const types = envelopes(transport, saga, 'o-2').map((e) => e.type);
        return types.includes(saga.events.PaymentRefunded.name) && types.includes(saga.events.InventoryReleased.name);
      },
      'both compensations',
    );
    const evs = envelopes(transport, saga, 'o-2');
    const byType = (name: string) => evs.filter((e) => e.type === name);
    const failed = byType(saga.events.ShipmentFailed.name);
    expect(failed).toHaveLength(1);
    expect(failed[0]?.sagaRole).toBe('step-failed');
    for (const compensated of [byType(saga.events.PaymentRefunded.name), byType(saga.events.InventoryReleased.name)]) {
      expect(compensated).toHaveLength(1);
      expect(compensated[0]?.sagaRole).toBe('compensated');
      expect(compensated[0]?.causationId).toBe(failed[0]?.id);
    }
    expect(ledger.refunds).toEqual(['ch-o-2-fail-shipping']);
    expect(ledger.releases).toEqual(['res-o-2-fail-shipping']);
    expect(ledger.compensationLogs).toEqual(
      expect.arrayContaining([
        { step: 'payment', sagaId: 'o-2', log: { chargeId: 'ch-o-2-fail-shipping' } },
        { step: 'inventory', sagaId: 'o-2', log: { reservationId: 'res-o-2-fail-shipping' } },
      ]),
    );
  });

  it('compensates only the steps that completed', async () => {
    await publisher.publish(saga.events.OrderPlaced, { orderId: 'o-3-fail-inventory', amount: 5 }, { sagaId: 'o-3' });
    await waitUntil(transport, () => envelopes(transport, saga, 'o-3').some((e) => e.type === saga.events.PaymentRefunded.name), 'refund');
    const types = envelopes(transport, saga, 'o-3').map((e) => e.type);
    expect(types).toContain(saga.events.ReservationFailed.name);
    expect(types).not.toContain(saga.events.InventoryReleased.name);
    expect(ledger.releases).toEqual([]);
  });

  it('runs a side effect once and emits once when the handler throws after it', async () => {
    await publisher.publish(saga.events.OrderPlaced, { orderId: 'o-4-throw-payment', amount: 1 }, { sagaId: 'o-4' });
    await waitUntil(
      transport,
      () => envelopes(transport, saga, 'o-4').some((e) => e.type === saga.events.ShipmentScheduled.name),
      'shipment',
    );
    expect(ledger.charges).toEqual(['o-4-throw-payment']);
    expect(envelopes(transport, saga, 'o-4').filter((e) => e.type === saga.events.PaymentCharged.name)).toHaveLength(1);
  });

  it('emits the step failure event and dead-letters the input when a handler gives up', async () => {
    await publisher.publish(saga.events.OrderPlaced, { orderId: 'o-5-giveup-payment', amount: 1 }, { sagaId: 'o-5' });
    await waitUntil(transport, () => envelopes(transport, saga, 'o-5').some((e) => e.type === saga.events.PaymentDeclined.name), 'decline');
    const dlq = transport.records(`${saga.events.OrderPlaced.topic}.dlq`);
    expect(dlq).toHaveLength(1);
    expect(headerString(dlq[0]?.headers, DLQ_HEADER.reason)).toBe('HANDLER_FAILED');
    expect(headerString(dlq[0]?.headers, DLQ_HEADER.attempts)).toBe('3');
    expect(headerString(dlq[0]?.headers, DLQ_HEADER.error)).toContain('payment gateway unavailable');
    const declined = envelopes(transport, saga, 'o-5').find((e) => e.type === saga.events.PaymentDeclined.name);
    expect(declined?.sagaRole).toBe('step-failed');
  });

  it('dead-letters poison input with the reason and keeps handling the partition', async () => {
    const topic = saga.events.OrderPlaced.topic;
    const good = await publisher.publish(saga.events.OrderPlaced, { orderId: 'o-6', amount: 1 }, { sagaId: 'o-6' });
    const headers = { ...Object.fromEntries(Object.entries(envelopeHeaders(transport, topic, good.id))) };
    // Same key as a good saga so the poison sits in front of it on one partition.
    await transport.send([
      { topic, key: 'o-7', value: Buffer.from('not avro'), headers: { ...headers, ce_id: 'poison-1', ce_sagaid: 'o-7' } },
      { topic, key: 'o-7', value: Buffer.from([0, 0, 0, 0x7f, 0x7f, 1]), headers: { ...headers, ce_id: 'poison-2', ce_sagaid: 'o-7' } },
      { topic, key: 'o-7', value: Buffer.from('x'), headers: { ce_type: saga.events.OrderPlaced.name } },
    ]);
    await publisher.publish(saga.events.OrderPlaced, { orderId: 'o-7', amount: 1 }, { sagaId: 'o-7' });
    await waitUntil(
      transport,
      () => envelopes(transport, saga, 'o-7').some((e) => e.type === saga.events.ShipmentScheduled.name),
      'o-7 shipped',
    );
    const reasons = transport.records(`${topic}.dlq`).map((m) => headerString(m.headers, DLQ_HEADER.reason));
    expect(reasons).toEqual(['UNDECODABLE_PAYLOAD', 'UNKNOWN_SCHEMA_ID', 'MISSING_HEADER']);
  });

  it('exposes metrics and health', async () => {
    await publisher.publish(saga.events.OrderPlaced, { orderId: 'o-8', amount: 1 }, { sagaId: 'o-8' });
    await waitUntil(
      transport,
      () => envelopes(transport, saga, 'o-8').some((e) => e.type === saga.events.ShipmentScheduled.name),
      'o-8 shipped',
    );
    const payment = services[0];
    const text = await payment?.metrics.metrics();
    expect(text).toMatch(/troupe_events_handled_total\{participant="payment-service",type="test.sdk.OrderPlaced",outcome="ok"\} 1/);
    expect(await payment?.health()).toMatchObject({ live: true, ready: true });
  });

  it('serves health, readiness and metrics over HTTP', async () => {
    const ops = await OperationsServer.create({
      participants: services,
      checks: { registry: () => Promise.reject(new Error('registry down')) },
    });
    try {
      const live = await fetch(`${ops.url}/health/live`);
      expect(live.status).toBe(200);
      const ready = await fetch(`${ops.url}/health/ready`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({ live: true, ready: false, checks: { registry: 'failed: Error: registry down' } });
      const metrics = await (await fetch(`${ops.url}/metrics`)).text();
      expect(metrics).toContain('# TYPE troupe_handler_duration_seconds histogram');
      expect(metrics).toContain('troupe_consumer_lag{participant="shipping-service"} 0');
    } finally {
      await ops.close();
    }
  });
});

function envelopeHeaders(transport: MemoryTransport, topic: string, id: string): Record<string, string> {
  const msg = transport.records(topic).find((m) => headerString(m.headers, 'ce_id') === id);
  return Object.fromEntries(Object.entries(msg?.headers ?? {}).map(([k]) => [k, headerString(msg?.headers, k) ?? '']));
}

describe('a handler that emits an invalid payload', () => {
  it('is not retried: the event is dead-lettered at once with the field named', async () => {
    const transport = await MemoryTransport.create();
    const codec = new MemorySchemaRegistry();
    const saga = orderSaga('invalid');
    let calls = 0;
    const p = await Participant.create({
      name: 'emitter',
      transport,
      codec,
      logger: silent,
      metricsRegistry: new Registry(),
      handlers: [
        on(saga.events.OrderPlaced, async ({ ctx }) => {
          calls += 1;
          await ctx.emit(saga.events.PaymentCharged, { orderId: 'x', chargeId: 42 as unknown as string });
        }),
      ],
    });
    try {
      const publisher = await Publisher.create({ transport, codec, source: 'test', contracts: [saga.contract] });
      await publisher.publish(saga.events.OrderPlaced, { orderId: 'o-1', amount: 1 }, { sagaId: 'o-1' });
      const dlq = `${saga.events.OrderPlaced.topic}.dlq`;
      await waitUntil(transport, () => transport.records(dlq).length === 1, 'a dead letter');
      const [dead] = transport.records(dlq);
      expect(headerString(dead?.headers, DLQ_HEADER.attempts)).toBe('1');
      expect(headerString(dead?.headers, DLQ_HEADER.error)).toMatch(/PAYLOAD_INVALID|chargeId/);
      expect(calls).toBe(1);
      expect(transport.records(saga.events.PaymentCharged.topic)).toHaveLength(0);
    } finally {
      await p.close();
      await transport.close();
    }
  });
});

describe('a handler attempt past its deadline', () => {
  it('is aborted with TIMEOUT (ctx.signal) and retried; only the attempt that finished emits', async () => {
    const transport = await MemoryTransport.create();
    const codec = new MemorySchemaRegistry();
    const saga = orderSaga('deadline');
    const aborted: unknown[] = [];
    let attempts = 0;
    await transport.ensureTopics([{ topic: saga.events.PaymentCharged.topic, partitions: 1 }]);
    const p = await Participant.create({
      name: 'slow-then-fast',
      transport,
      codec,
      logger: silent,
      metricsRegistry: new Registry(),
      handlers: [
        on(
          saga.events.OrderPlaced,
          async ({ payload, ctx }) => {
            attempts += 1;
            if (attempts === 1) {
              await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve()));
              aborted.push(ctx.signal.reason);
              // Too late: what the timed-out attempt emits is never written.
              await ctx.emit(saga.events.PaymentCharged, { orderId: payload.orderId, chargeId: 'late' });
              return;
            }
            await ctx.emit(saga.events.PaymentCharged, { orderId: payload.orderId, chargeId: 'on-time' });
          },
          { timeoutMs: 50 },
        ),
      ],
    });
    try {
      const publisher = await Publisher.create({ transport, codec, source: 'test', contracts: [saga.contract] });
      await publisher.publish(saga.events.OrderPlaced, { orderId: 'o-1', amount: 1 }, { sagaId: 'o-1' });
      const out = saga.events.PaymentCharged.topic;
      await waitUntil(transport, () => transport.records(out).length === 1, 'the payment');
      expect(attempts).toBe(2);
      expect(aborted).toHaveLength(1);
      expect(aborted[0]).toMatchObject({ code: 'TIMEOUT' });
      const [charged] = transport.records(out);
      expect((await codec.decode(charged?.value ?? Buffer.alloc(0))).payload).toMatchObject({ chargeId: 'on-time' });
      // Both attempts timed, the first counted as a failure and a retry, the event as handled once.
      const text = await p.metrics.metrics();
      const labels = `participant="slow-then-fast",type="${saga.events.OrderPlaced.name}"`;
      expect(text).toContain(`troupe_handler_duration_seconds_count{${labels}} 2`);
      expect(text).toContain(`troupe_handler_failures_total{${labels}} 1`);
      expect(text).toContain(`troupe_handler_retries_total{${labels}} 1`);
      expect(text).toContain(`troupe_events_handled_total{${labels},outcome="ok"} 1`);
    } finally {
      await p.close();
      await transport.close();
    }
  });
});
