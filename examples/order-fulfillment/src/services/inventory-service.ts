import { randomUUID } from 'node:crypto';
import { on, step, type HandlerDefinition, type IdempotencyStore } from '@troupe/sdk';
import { OrderPlaced, orderFulfillment, type OrderLine } from '../generated/events.js';
import { SOLD_OUT_SKU } from '../world.js';
import { OrderBook } from './order-book.js';
import { shortName } from './payment-service.js';

/** Reserves stock once the order is paid; releases it when a later step fails. */
export function inventoryHandlers(store: IdempotencyStore): HandlerDefinition[] {
  const lines = new OrderBook<OrderLine[]>(store, 'order-lines');
  return [
    on(OrderPlaced, async ({ payload }) => lines.remember(payload.orderId, payload.items)),
    step(orderFulfillment.inventory.withLog<{ reservationId: string }>(), {
      handle: async ({ payload, ctx }) => {
        const items = await lines.lookup(payload.orderId);
        const soldOut = items.filter((l) => SOLD_OUT_SKU.test(l.sku)).map((l) => l.sku);
        if (soldOut.length > 0) {
          return ctx.fail({ orderId: payload.orderId, unavailableSkus: soldOut, reason: `sold out: ${soldOut.join(', ')}` });
        }
        const reservationId = await ctx.once(() => Promise.resolve(`res-${randomUUID()}`));
        const reserved = items.map((l) => ({ sku: l.sku, quantity: l.quantity, warehouse: 'AMS-1' }));
        return ctx.complete({ orderId: payload.orderId, reservationId, items: reserved }, { reservationId });
      },
      onGiveUp: ({ payload, error }) => ({ orderId: payload.orderId, unavailableSkus: [], reason: String(error) }),
      compensate: async ({ log, trigger, ctx }) => {
        if (log === undefined) return;
        await ctx.compensated({
          orderId: ctx.sagaId,
          reservationId: log.reservationId,
          reason: `${shortName(trigger.type)} after inventory`,
        });
      },
      onCompensationGiveUp: ({ log, error, ctx }) => ({
        orderId: ctx.sagaId,
        reservationId: log?.reservationId ?? null,
        reason: String(error),
      }),
    }),
  ];
}
