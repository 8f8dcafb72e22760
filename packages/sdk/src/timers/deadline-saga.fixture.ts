/**
 * A small order saga whose initiator acts on time, for the deadline tests (memory and Kafka):
 * order-service starts it and ends it; payment charges (and refunds), shipping books a carrier and
 * never answers for orders whose id contains `silent` (and can cancel a booking). Its contract
 * gives shipping `within` (`withinMs`) and `onTimeout: abort`.
 */
import type { SagaContract } from '@troupe/core';
import { defineEventType, type AvroRecordSchema, type EventType } from '@troupe/schema-registry';
import { on, step, type HandlerDefinition } from '../participant/handlers.js';
import { timeoutEvent, type TimeoutEvent } from './abort.js';

const record = (name: string, fields: readonly string[]): AvroRecordSchema => ({
  type: 'record',
  name,
  namespace: 'test.deadline',
  fields: fields.map((n) => ({ name: n, type: 'string' })),
});

export interface Order {
  orderId: string;
}
export interface Charge {
  orderId: string;
  chargeId: string;
}
export interface Failure {
  orderId: string;
  reason: string;
}
export interface Cancelled {
  orderId: string;
  reason: string;
  step: string;
}

/** What the services did, to count effects (each refund, each booking cancelled). */
export interface DeadlineLedger {
  charges: string[];
  refunds: string[];
  bookings: string[];
  cancelledBookings: string[];
}

export function deadlineSaga(suffix: string, withinMs: number, onTimeout: 'abort' | 'fail-step' = 'abort') {
  const t = <T>(name: string, topic: string, fields: readonly string[]): EventType<T> =>
    defineEventType<T>({ name: `test.deadline.${name}`, topic: `dl-${topic}-${suffix}`, schema: record(name, fields) });
  const e = {
    OrderPlaced: t<Order>('OrderPlaced', 'orders', ['orderId']),
    OrderCompleted: t<Order>('OrderCompleted', 'orders', ['orderId']),
    OrderCancelled: t<Cancelled>('OrderCancelled', 'orders', ['orderId', 'reason', 'step']),
    PaymentCharged: t<Charge>('PaymentCharged', 'payments', ['orderId', 'chargeId']),
    PaymentDeclined: t<Failure>('PaymentDeclined', 'payments', ['orderId', 'reason']),
    PaymentRefunded: t<Charge>('PaymentRefunded', 'payments', ['orderId', 'chargeId']),
    ShipmentScheduled: t<Order>('ShipmentScheduled', 'shipping', ['orderId']),
    ShipmentFailed: t<Failure>('ShipmentFailed', 'shipping', ['orderId', 'reason']),
    ShipmentCancelled: t<Order>('ShipmentCancelled', 'shipping', ['orderId']),
  };
  const contract: SagaContract = {
    saga: `deadline-${suffix}`,
    initiator: 'order-service',
    start: e.OrderPlaced.name,
    steps: [
      {
        name: 'payment',
        participant: 'payment-service',
        completed: e.PaymentCharged.name,
        failed: e.PaymentDeclined.name,
        compensated: e.PaymentRefunded.name,
      },
      {
        name: 'shipping',
        participant: 'shipping-service',
        completed: e.ShipmentScheduled.name,
        failed: e.ShipmentFailed.name,
        compensated: e.ShipmentCancelled.name,
        withinMs,
        onTimeout,
      },
    ],
    end: { completed: e.OrderCompleted.name, aborted: e.OrderCancelled.name },
  };
  return { events: e, contract, all: Object.values(e) as EventType[] };
}

export type DeadlineSaga = ReturnType<typeof deadlineSaga>;

export const newDeadlineLedger = (): DeadlineLedger => ({ charges: [], refunds: [], bookings: [], cancelledBookings: [] });

/** The initiator: ends the saga on shipping's answer; its timeouts build OrderCancelled (and ShipmentFailed). */
export function orderService(s: DeadlineSaga): { handlers: HandlerDefinition[]; timeouts: TimeoutEvent[] } {
  const e = s.events;
  return {
    handlers: [
      on(e.ShipmentScheduled, ({ payload, ctx }) => ctx.emit(e.OrderCompleted, { orderId: payload.orderId })),
      on(e.ShipmentFailed, ({ payload, ctx }) =>
        ctx.emit(e.OrderCancelled, { orderId: payload.orderId, reason: payload.reason, step: 'shipping' }),
      ),
    ],
    timeouts: [
      timeoutEvent(e.OrderCancelled, (info) => ({ orderId: info.sagaId, reason: info.reason, step: info.step ?? '' })),
      timeoutEvent(e.ShipmentFailed, (info) => ({ orderId: info.sagaId, reason: `TIMEOUT: ${info.reason}` })),
    ],
  };
}

export function paymentService(s: DeadlineSaga, ledger: DeadlineLedger): HandlerDefinition[] {
  const e = s.events;
  return [
    step<Order, Charge, Failure, { chargeId: string }, Charge>({
      name: 'payment',
      on: e.OrderPlaced,
      completed: e.PaymentCharged,
      failed: e.PaymentDeclined,
      compensated: e.PaymentRefunded,
      handle: async ({ payload, ctx }) => {
        const chargeId = await ctx.once(() => {
          ledger.charges.push(payload.orderId);
          return Promise.resolve(`ch-${payload.orderId}`);
        });
        return ctx.complete({ orderId: payload.orderId, chargeId }, { chargeId });
      },
      onGiveUp: ({ payload, error }) => ({ orderId: payload.orderId, reason: String(error) }),
      compensate: async ({ log, ctx }) => {
        if (!log) return;
        ledger.refunds.push(ctx.sagaId);
        await ctx.compensated({ orderId: ctx.sagaId, chargeId: log.chargeId });
      },
    }),
  ];
}

export function shippingService(s: DeadlineSaga, ledger: DeadlineLedger): HandlerDefinition[] {
  const e = s.events;
  return [
    step<Charge, Order, Failure, { booked: boolean }, Order>({
      name: 'shipping',
      on: e.PaymentCharged,
      completed: e.ShipmentScheduled,
      failed: e.ShipmentFailed,
      compensated: e.ShipmentCancelled,
      handle: ({ payload, ctx }) => {
        if (payload.orderId.includes('silent')) return Promise.resolve(ctx.defer('the carrier has not confirmed the booking'));
        ledger.bookings.push(payload.orderId);
        return ctx.complete({ orderId: payload.orderId }, { booked: true });
      },
      onGiveUp: ({ payload, error }) => ({ orderId: payload.orderId, reason: String(error) }),
      compensate: async ({ log, ctx }) => {
        if (!log) return; // never booked for this saga
        ledger.cancelledBookings.push(ctx.sagaId);
        await ctx.compensated({ orderId: ctx.sagaId });
      },
    }),
  ];
}
