import { headerString, parseEnvelope } from '@troupe/core';
import { MemorySchemaRegistry } from '@troupe/schema-registry';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { contracts, OrderPlaced, orderFulfillment, type OrderPlaced as Order } from '../../../../test/generated/events.js';
import { DLQ_HEADER } from '../dead-letter/dead-letter.js';
import { Publisher } from '../publisher/publisher.js';
import { MemoryTransport } from '../transport/memory/memory-transport.js';
import { step } from './handlers.js';
import { Participant } from './participant.js';

const silent = pino({ level: 'silent' });
const order: Order = {
  orderId: 'o-1',
  customerId: 'c-1',
  items: [{ sku: 'sku-1', quantity: 1, unitPriceCents: 4200 }],
  totalCents: 4200,
  currency: 'EUR',
  shippingAddress: { line1: 'Main St 1', city: 'Springfield', postalCode: '12345', country: 'DE' },
};
const declined = (o: Order) => ({
  orderId: o.orderId,
  amountCents: o.totalCents,
  currency: o.currency,
  reason: 'PROVIDER_UNAVAILABLE' as const,
});

interface PaymentLog {
  paymentId: string;
  amountCents: number;
}

describe('steps from the contract (step descriptors)', () => {
  const open: Participant[] = [];
  let transport: MemoryTransport;
  afterEach(async () => {
    await Promise.all(open.map((p) => p.close()));
    open.length = 0;
    await transport.close();
  });

  async function start(codec: MemorySchemaRegistry, handlers: Parameters<typeof Participant.create>[0]['handlers']): Promise<Participant> {
    // No name, no events: the owner and the compensation triggers come from the descriptors.
    const p = await Participant.create({ transport, codec, contracts, handlers, logger: silent, metricsRegistry: new Registry() });
    open.push(p);
    return p;
  }

  /** Types appended so far to the saga's topics, in append order per topic. */
  const typesOf = (topics: readonly string[]): string[] =>
    topics.flatMap((t) => transport.records(t)).map((m) => headerString(m.headers, 'ce_type') ?? '?');

  /** Starts an inventory service whose step fails, then places the order: the saga compensates. */
  async function failInventoryAndPlaceOrder(codec: MemorySchemaRegistry): Promise<void> {
    await start(codec, [
      step(orderFulfillment.inventory, {
        handle: ({ payload: p, ctx }) => ctx.fail({ orderId: p.orderId, unavailableSkus: ['sku-1'], reason: 'OUT_OF_STOCK' }),
        onGiveUp: ({ payload: p }) => ({ orderId: p.orderId, unavailableSkus: [], reason: 'gave up' }),
      }),
    ]);
    const publisher = await Publisher.create({ transport, codec, source: 'order-service', contracts: [contracts['order-fulfillment']] });
    await publisher.publish(OrderPlaced, order, { sagaId: order.orderId });
  }

  async function until(predicate: () => boolean, what: string): Promise<void> {
    for (let i = 0; i < 500 && !predicate(); i++) await new Promise((r) => setTimeout(r, 10));
    if (!predicate()) throw new Error(`timed out waiting for ${what}`);
  }

  it('runs a step declared once, compensates with the typed log, and names the participant from the contract', async () => {
    transport = await MemoryTransport.create();
    const codec = new MemorySchemaRegistry();
    const { payment, inventory } = orderFulfillment;
    const refunds: PaymentLog[] = [];
    const payments = await start(codec, [
      step(payment.withLog<PaymentLog>(), {
        handle: async ({ payload: o, ctx }) => {
          const paymentId = `pay-${o.orderId}`;
          const done = { orderId: o.orderId, paymentId, amountCents: o.totalCents, currency: o.currency, method: 'CARD' as const };
          return ctx.complete(done, { paymentId, amountCents: o.totalCents });
        },
        onGiveUp: ({ payload: o }) => declined(o),
        compensate: async ({ log, ctx }) => {
          if (log) refunds.push(log);
          await ctx.compensated({
            orderId: ctx.sagaId,
            paymentId: log?.paymentId ?? '',
            amountCents: log?.amountCents ?? 0,
            currency: 'EUR',
            reason: 'refund',
          });
        },
        onCompensationGiveUp: ({ log, error, ctx }) => ({ orderId: ctx.sagaId, paymentId: log?.paymentId ?? null, reason: String(error) }),
      }),
    ]);
    expect(payments.name).toBe('payment-service');
    await failInventoryAndPlaceOrder(codec);

    const compensated = payment.compensated?.name ?? '';
    const topics = [...new Set([payment.completed.topic, inventory.failed.topic, payment.compensated?.topic ?? ''])];
    await until(() => typesOf(topics).includes(compensated), 'PaymentRefunded');
    // Each outcome once: charged, the later step's failure, the refund.
    expect(typesOf(topics).sort()).toEqual([payment.completed.name, inventory.failed.name, compensated].sort());
    expect(refunds).toEqual([{ paymentId: 'pay-o-1', amountCents: 4200 }]);
  });

  it('fails a step that returns without an outcome with a code that says what to do, so the saga compensates instead of hanging', async () => {
    transport = await MemoryTransport.create();
    const codec = new MemorySchemaRegistry();
    const { payment } = orderFulfillment;
    await start(codec, [
      step(payment, {
        // @ts-expect-error -- the handler must return ctx.complete(...) or ctx.fail(...)
        handle: async () => {
          await Promise.resolve();
        },
        onGiveUp: ({ payload: o }) => declined(o),
      }),
    ]);
    const publisher = await Publisher.create({ transport, codec, source: 'order-service', contracts: [contracts['order-fulfillment']] });
    await publisher.publish(OrderPlaced, order, { sagaId: order.orderId });
    await until(
      () => transport.records(payment.failed.topic).some((m) => headerString(m.headers, 'ce_type') === payment.failed.name),
      'PaymentDeclined',
    );
    const [dead] = transport.records(`${payment.on.topic}.dlq`);
    expect(headerString(dead?.headers ?? {}, DLQ_HEADER.error)).toMatch(
      /STEP_WITHOUT_OUTCOME|returned without an outcome.*return ctx\.complete\(\.\.\.\)/,
    );
    const failure = transport.records(payment.failed.topic).find((m) => headerString(m.headers, 'ce_type') === payment.failed.name);
    expect(failure && parseEnvelope(failure.headers).sagaStep).toBe('payment');
  });

  it('refuses a compensable step without onCompensationGiveUp when the contract declares compensationFailed', async () => {
    transport = await MemoryTransport.create();
    await expect(
      start(new MemorySchemaRegistry(), [
        step(orderFulfillment.payment, {
          handle: ({ payload: o, ctx }) => ctx.fail(declined(o)),
          onGiveUp: ({ payload: o }) => declined(o),
          compensate: () => Promise.resolve(),
        }),
      ]),
    ).rejects.toThrow(/step payment declares compensationFailed com\.acme\.payments\.PaymentRefundFailed but no onCompensationGiveUp/);
  });

  it('emits the contract compensationFailed event, with the log and the reason, when the compensation gives up', async () => {
    transport = await MemoryTransport.create();
    const codec = new MemorySchemaRegistry();
    const { payment, inventory } = orderFulfillment;
    await start(codec, [
      step(payment.withLog<PaymentLog>(), {
        handle: ({ payload: o, ctx }) =>
          ctx.complete(
            { orderId: o.orderId, paymentId: 'pay-1', amountCents: o.totalCents, currency: o.currency, method: 'CARD' as const },
            { paymentId: 'pay-1', amountCents: o.totalCents },
          ),
        onGiveUp: ({ payload: o }) => declined(o),
        compensate: () => Promise.reject(Object.assign(new Error('card account closed'), { retriable: false })),
        onCompensationGiveUp: ({ log, error, ctx }) => ({ orderId: ctx.sagaId, paymentId: log?.paymentId ?? null, reason: String(error) }),
      }),
    ]);
    await failInventoryAndPlaceOrder(codec);
    const failedType = payment.compensationFailed?.name ?? '';
    const failedTopic = payment.compensationFailed?.topic ?? '';
    await until(() => transport.records(failedTopic).some((m) => headerString(m.headers, 'ce_type') === failedType), 'PaymentRefundFailed');
    const records = transport.records(failedTopic).filter((m) => headerString(m.headers, 'ce_type') === failedType);
    expect(records).toHaveLength(1);
    expect(parseEnvelope(records[0]?.headers ?? {})).toMatchObject({ sagaRole: 'compensation-failed', sagaStep: 'payment' });
    expect((await codec.decode(records[0]?.value ?? Buffer.alloc(0))).payload).toEqual({
      orderId: order.orderId,
      paymentId: 'pay-1',
      reason: 'Error: card account closed',
    });
    // The trigger is dead-lettered too, and nothing claims the refund happened.
    expect(transport.records(`${inventory.failed.topic}.dlq`)).toHaveLength(1);
    expect(transport.records(payment.compensated?.topic ?? '').map((m) => headerString(m.headers, 'ce_type'))).not.toContain(
      payment.compensated?.name,
    );
  });

  it('run() resolves once the participant is closed', async () => {
    transport = await MemoryTransport.create();
    const p = await start(new MemorySchemaRegistry(), [
      step(orderFulfillment.payment, {
        handle: ({ payload: o, ctx }) => ctx.fail(declined(o)),
        onGiveUp: ({ payload: o }) => declined(o),
      }),
    ]);
    const running = p.run();
    await p.close();
    await expect(running).resolves.toBeUndefined();
  });
});
