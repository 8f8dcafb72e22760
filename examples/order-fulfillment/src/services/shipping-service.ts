import { randomUUID } from 'node:crypto';
import { on, step, type HandlerDefinition, type IdempotencyStore } from '@troupe/sdk';
import { OrderPlaced, orderFulfillment, type Address } from '../generated/events.js';
import { SILENT_CARRIER_POSTCODE, UNDELIVERABLE_COUNTRY } from '../world.js';
import { OrderBook } from './order-book.js';

const DAY_MS = 86_400_000;

/** Books a carrier once stock is reserved. The last step: it has nothing to compensate. */
export function shippingHandlers(store: IdempotencyStore): HandlerDefinition[] {
  const addresses = new OrderBook<Address>(store, 'address');
  return [
    on(OrderPlaced, async ({ payload }) => addresses.remember(payload.orderId, payload.shippingAddress)),
    step(orderFulfillment.shipping, {
      handle: async ({ payload, ctx }) => {
        const address = await addresses.lookup(payload.orderId);
        if (address.country === UNDELIVERABLE_COUNTRY) {
          return ctx.fail({ orderId: payload.orderId, reason: 'ADDRESS_UNDELIVERABLE', detail: `no carrier delivers to ${address.city}` });
        }
        if (address.postalCode === SILENT_CARRIER_POSTCODE) {
          // The carrier's booking API accepted the request and never called back: the step
          // neither completes nor fails, and the tracker reports the saga stuck in `shipping`.
          return ctx.defer('carrier did not confirm the booking; waiting');
        }
        const shipmentId = await ctx.once(() => Promise.resolve(`shp-${randomUUID()}`));
        return ctx.complete({
          orderId: payload.orderId,
          shipmentId,
          carrier: 'POSTNL',
          trackingNumber: `3S${shipmentId.slice(4, 14).toUpperCase()}`,
          estimatedDeliveryAt: Date.parse(ctx.envelope.time) + 2 * DAY_MS,
        });
      },
      onGiveUp: ({ payload, error }) => ({ orderId: payload.orderId, reason: 'NO_CARRIER_AVAILABLE', detail: String(error) }),
    }),
  ];
}
