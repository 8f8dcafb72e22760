import { on, timeoutEvent, type HandlerDefinition, type IdempotencyStore, type Publisher, type TimeoutEvent } from '@troupe/sdk';
import {
  InventoryReservationFailed,
  OrderCancelled,
  OrderCompleted,
  OrderPlaced,
  PaymentCharged,
  PaymentDeclined,
  ShipmentFailed,
  ShipmentScheduled,
} from '../generated/events.js';
import { OrderBook } from './order-book.js';

/**
 * Places an order in the embedded demo (no database): publishing the contract's start event starts
 * an order-fulfillment saga. In Kafka mode the order service stores the order and starts its saga
 * in one PostgreSQL transaction instead (OrderDesk, POST /orders).
 */
export async function placeOrder(publisher: Publisher, order: OrderPlaced): Promise<void> {
  await publisher.publish(OrderPlaced, order, { sagaId: order.orderId });
}

/**
 * What the order service emits when the contract's time runs out (the shipping step's `within`,
 * `onTimeout: abort`) or an operator aborts an order (`troupe-saga abort`): OrderCancelled, on
 * which payment refunds and inventory releases (docs/time.md).
 */
export function orderTimeouts(): TimeoutEvent[] {
  return [timeoutEvent(OrderCancelled, ({ sagaId, step, reason }) => ({ orderId: sagaId, failedStep: step ?? 'deadline', reason }))];
}

/**
 * Ends every saga it started: OrderCompleted once shipping is scheduled, OrderCancelled as soon as
 * any step fails (the failed step's predecessors compensate on their own; the tracker shows the
 * saga `compensating` until they have).
 */
export function orderHandlers(store: IdempotencyStore): HandlerDefinition[] {
  const payments = new OrderBook<string>(store, 'payment-id');
  return [
    on(PaymentCharged, async ({ payload }) => payments.remember(payload.orderId, payload.paymentId)),
    on(ShipmentScheduled, async ({ payload, ctx }) => {
      const paymentId = await payments.lookup(payload.orderId);
      await ctx.emit(OrderCompleted, { orderId: payload.orderId, paymentId, shipmentId: payload.shipmentId });
    }),
    on(PaymentDeclined, async ({ payload, ctx }) => {
      await ctx.emit(OrderCancelled, { orderId: payload.orderId, failedStep: 'payment', reason: payload.detail ?? payload.reason });
    }),
    on(InventoryReservationFailed, async ({ payload, ctx }) => {
      await ctx.emit(OrderCancelled, { orderId: payload.orderId, failedStep: 'inventory', reason: payload.reason });
    }),
    on(ShipmentFailed, async ({ payload, ctx }) => {
      await ctx.emit(OrderCancelled, { orderId: payload.orderId, failedStep: 'shipping', reason: payload.detail ?? payload.reason });
    }),
  ];
}
