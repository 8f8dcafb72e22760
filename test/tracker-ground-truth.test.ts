import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SagaContract } from '@troupe/core';
import { MemorySchemaRegistry, defineEventType } from '@troupe/schema-registry';
import { KafkaTransport, Participant, Publisher, on, step, type HandlerDefinition } from '@troupe/sdk';
import { SagaTracker, type SagaStatus, type TypeStats } from '@troupe/saga-tracker';
import { kafkaBrokers, uniqueName } from '@troupe/testing';
import {
  newLedger,
  orderSaga,
  paymentHandlers,
  shippingHandlers,
  type InventoryReleased,
  type InventoryReserved,
  type PaymentCharged,
  type ReservationFailed,
  type ShipmentScheduled,
} from '../packages/sdk/src/participant/order-saga.fixture.js';

const silent = pino({ level: 'silent' });

/** The known mix: each saga id says what its participants will do, so the outcome is ground truth. */
const MIX: readonly { marker: string; count: number; status: SagaStatus; stuck: boolean }[] = [
  { marker: 'ok', count: 200, status: 'completed', stuck: false },
  { marker: 'fail-inventory', count: 100, status: 'compensated', stuck: false },
  { marker: 'fail-shipping', count: 80, status: 'compensated', stuck: false },
  // The shipping handler keeps throwing: the SDK dead-letters the event and emits ShipmentFailed.
  { marker: 'giveup-shipping', count: 70, status: 'failed', stuck: false },
  // The inventory service swallows the event: nothing ever follows PaymentCharged.
  { marker: 'stuck', count: 50, status: 'running', stuck: true },
];

describe('tracker against ground truth from SDK participants on a real broker', () => {
  const suffix = uniqueName('trk-gt');
  const saga = orderSaga(suffix);
  const e = saga.events;
  const OrderCompleted = defineEventType<{ orderId: string }>({
    name: 'test.sdk.OrderCompleted',
    topic: `orders-${suffix}`,
    schema: { type: 'record', name: 'OrderCompleted', namespace: 'test.sdk', fields: [{ name: 'orderId', type: 'string' }] },
  });
  const contract: SagaContract = {
    ...saga.contract,
    initiator: 'order-service',
    deadlineMs: 5 * 60_000,
    steps: saga.contract.steps.map((s) => ({ ...s, withinMs: 30_000 })),
  };
  const codec = new MemorySchemaRegistry();
  let transport: KafkaTransport;
  let participants: Participant[] = [];
  let tracker: SagaTracker;
  let skewMs = 0;
  const truth = new Map<string, { status: SagaStatus; stuck: boolean }>();

  beforeAll(async () => {
    transport = await KafkaTransport.create({ brokers: kafkaBrokers(), redeliveryDelayMs: 50, logger: silent });
    const ledger = newLedger();
    const inventory: HandlerDefinition = step<
      PaymentCharged,
      InventoryReserved,
      ReservationFailed,
      { reservationId: string },
      InventoryReleased
    >({
      name: 'inventory',
      on: e.PaymentCharged,
      completed: e.InventoryReserved,
      failed: e.ReservationFailed,
      compensated: e.InventoryReleased,
      handle: async ({ payload, ctx }) => {
        // The outcome never comes: deferred on purpose, so the saga waits in this step and is stuck.
        if (payload.orderId.includes('-stuck-')) return ctx.defer('the inventory service swallows the event');
        if (payload.orderId.includes('-fail-inventory-')) return ctx.fail({ orderId: payload.orderId, reason: 'out of stock' });
        const reservationId = `res-${payload.orderId}`;
        await ctx.complete({ orderId: payload.orderId, reservationId }, { reservationId });
      },
      onGiveUp: ({ payload, error }) => ({ orderId: payload.orderId, reason: String(error) }),
      compensate: async ({ log, ctx }) => {
        if (log) await ctx.compensated({ orderId: ctx.sagaId, reservationId: log.reservationId });
      },
    });
    const orders = on<ShipmentScheduled>(e.ShipmentScheduled, async ({ payload, ctx }) =>
      ctx.emit(OrderCompleted, { orderId: payload.orderId }),
    );
    const events = [...saga.all, OrderCompleted];
    const make = (name: string, handlers: HandlerDefinition[]): Promise<Participant> =>
      Participant.create({
        name,
        transport,
        codec,
        handlers,
        contracts: [contract],
        events,
        logger: silent,
        groupId: `${name}-${suffix}`,
        retry: { attempts: 2, initialDelayMs: 5, maxDelayMs: 10 },
        maxBatchSize: 50,
      });
    participants = await Promise.all([
      make('payment-service', paymentHandlers(saga, ledger)),
      make('inventory-service', [inventory]),
      make('shipping-service', shippingHandlers(saga, ledger)),
      make('order-service', [orders]),
    ]);
    const publisher = await Publisher.create({ transport, codec, source: 'order-service', contracts: [contract] });
    const ids: string[] = [];
    for (const m of MIX) {
      for (let i = 0; i < m.count; i++) {
        const id = `${suffix}-${m.marker}-${i}`;
        truth.set(id, { status: m.status, stuck: m.stuck });
        ids.push(id);
      }
    }
    for (let i = 0; i < ids.length; i += 50) {
      await Promise.all(ids.slice(i, i + 50).map((id) => publisher.publish(e.OrderPlaced, { orderId: id, amount: 10 }, { sagaId: id })));
    }
    tracker = await SagaTracker.create({
      brokers: kafkaBrokers(),
      contracts: [contract],
      topics: [...new Set(events.map((t) => t.topic))],
      deadLetterPattern: new RegExp(`-${suffix}\\.dlq$`),
      codec,
      port: 0,
      logger: silent,
      now: () => Date.now() + skewMs,
      ingest: { topicRefreshMs: 1000 },
    });
  }, 240_000);

  afterAll(async () => {
    await tracker?.close();
    await Promise.all(participants.map((p) => p.close()));
    await transport?.close();
  });

  it('counts every status exactly and gives every saga its true status', async () => {
    const expected = { running: 0, completed: 0, compensating: 0, compensated: 0, failed: 0 };
    for (const t of truth.values()) expected[t.status]++;
    const stats = async (): Promise<TypeStats | undefined> => {
      const body = (await (await fetch(`${tracker.url}/api/stats?type=order-fulfillment`)).json()) as { types: TypeStats[] };
      return body.types[0];
    };
    await expect.poll(async () => (await stats())?.byStatus, { timeout: 180_000, interval: 500 }).toEqual(expected);

    // Nothing is stuck while the contract's limits have not passed; ten minutes later, exactly the swallowed ones are.
    expect((await stats())?.stuck).toBe(0);
    skewMs = 10 * 60_000;
    const later = await stats();
    expect(later?.total).toBe(truth.size);
    expect(later?.stuck).toBe(MIX.filter((m) => m.stuck).reduce((n, m) => n + m.count, 0));
    // SDK participants follow the contract: no saga deviates from it (no false positives).
    expect(later?.nonConforming).toBe(0);

    const wrong: string[] = [];
    for (const [id, t] of truth) {
      const res = await fetch(`${tracker.url}/api/sagas/${encodeURIComponent(id)}`);
      const s = (await res.json()) as { status: SagaStatus; stuck: { stuck: boolean; step?: string; participant?: string } };
      if (s.status !== t.status || s.stuck.stuck !== t.stuck) wrong.push(`${id}: ${s.status}${s.stuck.stuck ? ' (stuck)' : ''}`);
      if (t.stuck && (s.stuck.step !== 'inventory' || s.stuck.participant !== 'inventory-service'))
        wrong.push(`${id}: stuck at ${s.stuck.step}`);
    }
    expect(wrong).toEqual([]);

    const giveUp = (await (await fetch(`${tracker.url}/api/sagas/${suffix}-giveup-shipping-0`)).json()) as {
      deadLetters: { participant?: string; reason?: string }[];
      compensations: { expected: string[]; done: string[] };
    };
    expect(giveUp.deadLetters.map((d) => d.participant)).toEqual(['shipping-service']);
    expect(giveUp.deadLetters[0]?.reason).toMatch(/^HANDLER_FAILED: /);
    expect(giveUp.compensations).toEqual({
      expected: ['payment', 'inventory'],
      done: ['payment', 'inventory'],
      failed: [],
      leftToUndo: [],
    });
  });
});
