/**
 * A 3-participant saga (payment → inventory → shipping) used by the SDK's unit tests and the
 * integration tests in `test/sdk-*`. Topics get a suffix so every test has its own. Which step
 * fails is chosen by the order id: `fail-inventory`, `fail-shipping` (the step fails), `giveup-payment`,
 * `giveup-shipping` (the handler keeps throwing), `throw-payment` (throws once after charging).
 */
import { type SagaContract } from '@troupe/core';
import { defineEventType, type AvroRecordSchema, type EventCodec, type EventType } from '@troupe/schema-registry';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import type { IdempotencyStore } from '../idempotency/idempotency-store.js';
import { step, type HandlerDefinition } from './handlers.js';
import { Participant } from './participant.js';
import type { ParticipantOptions } from './participant-options.js';
import type { Transport } from '../transport/transport.js';

const record = (name: string, fields: Record<string, 'string' | 'int'>): AvroRecordSchema => ({
  type: 'record',
  name,
  namespace: 'test.sdk',
  fields: Object.entries(fields).map(([n, type]) => ({ name: n, type })),
});

export interface OrderPlaced {
  orderId: string;
  amount: number;
}
export interface PaymentCharged {
  orderId: string;
  chargeId: string;
}
export interface PaymentDeclined {
  orderId: string;
  reason: string;
}
export interface PaymentRefunded {
  orderId: string;
  chargeId: string;
}
export interface InventoryReserved {
  orderId: string;
  reservationId: string;
}
export interface ReservationFailed {
  orderId: string;
  reason: string;
}
export interface InventoryReleased {
  orderId: string;
  reservationId: string;
}
export interface ShipmentScheduled {
  orderId: string;
  trackingId: string;
}
export interface ShipmentFailed {
  orderId: string;
  reason: string;
}

/**
 * `parallel`: payment ∥ inventory (group `reserve`, both start on OrderPlaced), then shipping once
 * both are done (ADR 0017); otherwise payment → inventory → shipping.
 */
export function orderSaga(suffix: string, shape: 'linear' | 'parallel' = 'linear') {
  const t = <T>(name: string, topic: string, fields: Record<string, 'string' | 'int'>): EventType<T> =>
    defineEventType<T>({ name: `test.sdk.${name}`, topic: `${topic}-${suffix}`, schema: record(name, fields) });
  const events = {
    OrderPlaced: t<OrderPlaced>('OrderPlaced', 'orders', { orderId: 'string', amount: 'int' }),
    PaymentCharged: t<PaymentCharged>('PaymentCharged', 'payments', { orderId: 'string', chargeId: 'string' }),
    PaymentDeclined: t<PaymentDeclined>('PaymentDeclined', 'payments', { orderId: 'string', reason: 'string' }),
    PaymentRefunded: t<PaymentRefunded>('PaymentRefunded', 'payments', { orderId: 'string', chargeId: 'string' }),
    InventoryReserved: t<InventoryReserved>('InventoryReserved', 'inventory', { orderId: 'string', reservationId: 'string' }),
    ReservationFailed: t<ReservationFailed>('ReservationFailed', 'inventory', { orderId: 'string', reason: 'string' }),
    InventoryReleased: t<InventoryReleased>('InventoryReleased', 'inventory', { orderId: 'string', reservationId: 'string' }),
    ShipmentScheduled: t<ShipmentScheduled>('ShipmentScheduled', 'shipping', { orderId: 'string', trackingId: 'string' }),
    ShipmentFailed: t<ShipmentFailed>('ShipmentFailed', 'shipping', { orderId: 'string', reason: 'string' }),
  };
  const contract: SagaContract = {
    saga: 'order-fulfillment',
    start: events.OrderPlaced.name,
    steps: [
      {
        name: 'payment',
        participant: 'payment-service',
        completed: events.PaymentCharged.name,
        failed: events.PaymentDeclined.name,
        compensated: events.PaymentRefunded.name,
        ...(shape === 'parallel' ? { parallel: 'reserve' } : {}),
      },
      {
        name: 'inventory',
        participant: 'inventory-service',
        completed: events.InventoryReserved.name,
        failed: events.ReservationFailed.name,
        compensated: events.InventoryReleased.name,
        ...(shape === 'parallel' ? { parallel: 'reserve' } : {}),
      },
      { name: 'shipping', participant: 'shipping-service', completed: events.ShipmentScheduled.name, failed: events.ShipmentFailed.name },
    ],
    end: { completed: 'test.sdk.OrderCompleted', aborted: 'test.sdk.OrderCancelled' },
  };
  return { events, contract, shape, all: Object.values(events) as EventType[] };
}

export type OrderSaga = ReturnType<typeof orderSaga>;

/** What the fixture services did to the outside world, to assert effects happened once. */
export interface Ledger {
  charges: string[];
  refunds: string[];
  reservations: string[];
  releases: string[];
  shipments: string[];
  /** Logs received by compensation handlers, per step. */
  compensationLogs: { step: string; sagaId: string; log: unknown }[];
}

/** Registers every event type in a fixed order, so two in-process registries hand out the same ids. */
export async function registerAll(
  codec: { register(subject: string, schema: EventType['schema']): Promise<number> },
  saga: OrderSaga,
): Promise<void> {
  for (const t of saga.all) await codec.register(`${t.topic}-${t.name}`, t.schema);
}

export const newLedger = (): Ledger => ({ charges: [], refunds: [], reservations: [], releases: [], shipments: [], compensationLogs: [] });

/** Test hooks: called in every forward step after its side effect, before it completes. */
export interface SagaHooks {
  afterEffect?(step: string, orderId: string): Promise<void>;
  /** Called by a step about to emit its failure event (`fail-<step>` orders). */
  beforeFailure?(step: string, orderId: string): Promise<void>;
}

export function paymentHandlers(saga: OrderSaga, ledger: Ledger, hooks: SagaHooks = {}): HandlerDefinition[] {
  const e = saga.events;
  return [
    step<OrderPlaced, PaymentCharged, PaymentDeclined, { chargeId: string }, PaymentRefunded>({
      name: 'payment',
      on: e.OrderPlaced,
      ...(saga.shape === 'parallel' ? { parallel: 'reserve' } : {}),
      completed: e.PaymentCharged,
      failed: e.PaymentDeclined,
      compensated: e.PaymentRefunded,
      handle: async ({ payload, ctx }) => {
        const chargeId = await ctx.once(() => {
          ledger.charges.push(payload.orderId);
          return Promise.resolve(`ch-${payload.orderId}`);
        });
        await hooks.afterEffect?.('payment', payload.orderId);
        if (payload.orderId.includes('throw-payment') && ctx.attempt === 1) throw new Error('payment gateway timed out after charging');
        if (payload.orderId.includes('giveup-payment')) throw new Error('payment gateway unavailable');
        await ctx.complete({ orderId: payload.orderId, chargeId }, { chargeId });
      },
      onGiveUp: ({ payload, error }) => ({ orderId: payload.orderId, reason: String(error) }),
      compensate: async ({ log, ctx, trigger }) => {
        ledger.compensationLogs.push({ step: 'payment', sagaId: ctx.sagaId, log });
        if (!log) return;
        await ctx.once(() => {
          ledger.refunds.push(log.chargeId);
          return Promise.resolve(true);
        });
        await ctx.compensated({ orderId: (trigger.payload as { orderId: string }).orderId, chargeId: log.chargeId });
      },
    }),
  ];
}

export function inventoryHandlers(saga: OrderSaga, ledger: Ledger, hooks: SagaHooks = {}): HandlerDefinition[] {
  const e = saga.events;
  return [
    step<{ orderId: string }, InventoryReserved, ReservationFailed, { reservationId: string }, InventoryReleased>({
      name: 'inventory',
      ...(saga.shape === 'parallel' ? { on: e.OrderPlaced, parallel: 'reserve' } : { on: e.PaymentCharged }),
      completed: e.InventoryReserved,
      failed: e.ReservationFailed,
      compensated: e.InventoryReleased,
      handle: async ({ payload, ctx }) => {
        if (payload.orderId.includes('fail-inventory')) {
          await hooks.beforeFailure?.('inventory', payload.orderId);
          await ctx.fail({ orderId: payload.orderId, reason: 'out of stock' });
          return;
        }
        const reservationId = `res-${payload.orderId}`;
        await ctx.once(() => {
          ledger.reservations.push(payload.orderId);
          return Promise.resolve(reservationId);
        });
        await hooks.afterEffect?.('inventory', payload.orderId);
        await ctx.complete({ orderId: payload.orderId, reservationId }, { reservationId });
      },
      onGiveUp: ({ payload, error }) => ({ orderId: payload.orderId, reason: String(error) }),
      compensate: async ({ log, ctx }) => {
        ledger.compensationLogs.push({ step: 'inventory', sagaId: ctx.sagaId, log });
        if (!log) return;
        ledger.releases.push(log.reservationId);
        await ctx.compensated({ orderId: ctx.sagaId, reservationId: log.reservationId });
      },
    }),
  ];
}

export function shippingHandlers(saga: OrderSaga, ledger: Ledger, hooks: SagaHooks = {}): HandlerDefinition[] {
  const e = saga.events;
  return [
    step<{ orderId: string }, ShipmentScheduled, ShipmentFailed>({
      name: 'shipping',
      on: e.InventoryReserved,
      // After the parallel group: once payment and inventory both completed (a join).
      ...(saga.shape === 'parallel' ? { awaits: [[e.PaymentCharged], [e.InventoryReserved]] } : {}),
      completed: e.ShipmentScheduled,
      failed: e.ShipmentFailed,
      handle: async ({ payload, ctx }) => {
        if (payload.orderId.includes('giveup-shipping')) throw new Error('courier API keeps failing');
        if (payload.orderId.includes('fail-shipping')) {
          await ctx.fail({ orderId: payload.orderId, reason: 'no courier' });
          return;
        }
        ledger.shipments.push(payload.orderId);
        await hooks.afterEffect?.('shipping', payload.orderId);
        // An output no broker with default settings accepts (2 MB): the step must give up, not loop.
        const trackingId = payload.orderId.includes('huge-shipping') ? 'x'.repeat(2_000_000) : `trk-${payload.orderId}`;
        await ctx.complete({ orderId: payload.orderId, trackingId });
      },
      onGiveUp: ({ payload, error }) => ({ orderId: payload.orderId, reason: String(error) }),
    }),
  ];
}

export interface SagaServicesOptions {
  readonly transport: Transport;
  readonly codec: EventCodec;
  readonly saga: OrderSaga;
  readonly ledger: Ledger;
  readonly logger: Logger;
  readonly store?: IdempotencyStore;
  readonly groupSuffix?: string;
  readonly overrides?: Partial<ParticipantOptions>;
  readonly hooks?: SagaHooks;
}

/** Starts the three participants of the saga. */
export async function startSagaServices(o: SagaServicesOptions): Promise<Participant[]> {
  const metricsRegistry = new Registry();
  const make = (name: string, handlers: HandlerDefinition[]): Promise<Participant> =>
    Participant.create({
      name,
      transport: o.transport,
      codec: o.codec,
      handlers,
      contracts: [o.saga.contract],
      events: o.saga.all,
      logger: o.logger,
      // Groups of this saga's own unless told: the groups' inbox and timer topics must match its topics' partition count.
      groupId: `${name}-${o.groupSuffix ?? o.saga.events.OrderPlaced.topic}`,
      metricsRegistry,
      retry: { attempts: 3, initialDelayMs: 10, maxDelayMs: 50 },
      ...(o.store ? { idempotencyStore: o.store } : {}),
      ...o.overrides,
    });
  return Promise.all([
    make('payment-service', paymentHandlers(o.saga, o.ledger, o.hooks)),
    make('inventory-service', inventoryHandlers(o.saga, o.ledger, o.hooks)),
    make('shipping-service', shippingHandlers(o.saga, o.ledger, o.hooks)),
  ]);
}
