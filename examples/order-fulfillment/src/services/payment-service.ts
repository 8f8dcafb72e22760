import { randomUUID } from 'node:crypto';
import { step, type HandlerDefinition } from '@troupe/sdk';
import { orderFulfillment } from '../generated/events.js';
import { EXPIRED_CARD_CUSTOMER } from '../world.js';

/** What the payment step records for its compensation: enough to refund. */
interface PaymentLog {
  paymentId: string;
  amountCents: number;
  currency: string;
}

/** Charges the customer when an order is placed; refunds when a later step fails. */
export function paymentHandlers(): HandlerDefinition[] {
  return [
    // Events, owner and compensation triggers come from the contract; only the log type is ours.
    step(orderFulfillment.payment.withLog<PaymentLog>(), {
      handle: async ({ payload: order, ctx }) => {
        const amount = { orderId: order.orderId, amountCents: order.totalCents, currency: order.currency };
        if (EXPIRED_CARD_CUSTOMER.test(order.customerId)) {
          return ctx.fail({ ...amount, reason: 'CARD_EXPIRED', detail: `the card of ${order.customerId} has expired` });
        }
        // The gateway call runs once per event even when the event is delivered again.
        const paymentId = await ctx.once(() => Promise.resolve(`pay-${randomUUID()}`));
        return ctx.complete(
          { ...amount, paymentId, method: 'CARD' },
          { paymentId, amountCents: amount.amountCents, currency: amount.currency },
        );
      },
      onGiveUp: ({ payload: order, error }) => ({
        orderId: order.orderId,
        amountCents: order.totalCents,
        currency: order.currency,
        reason: 'PROVIDER_UNAVAILABLE',
        detail: String(error),
      }),
      compensate: async ({ log, trigger, ctx }) => {
        if (log === undefined) return; // never charged for this saga: nothing to refund
        await ctx.once(() => Promise.resolve(`refund-${log.paymentId}`));
        await ctx.compensated({ orderId: ctx.sagaId, ...log, reason: `${shortName(trigger.type)} after payment` });
      },
      // Retries used up while refunding: the saga shows the charge as left to undo.
      onCompensationGiveUp: ({ log, error, ctx }) => ({ orderId: ctx.sagaId, paymentId: log?.paymentId ?? null, reason: String(error) }),
    }),
  ];
}

export const shortName = (fullName: string): string => fullName.slice(fullName.lastIndexOf('.') + 1);
