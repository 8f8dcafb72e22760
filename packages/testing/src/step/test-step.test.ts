import { defineEventType, type AvroRecordSchema } from '@troupe/schema-registry';
import { MemoryIdempotencyStore, SdkError, on, step } from '@troupe/sdk';
import { describe, expect, it } from 'vitest';
import { testStep } from './test-step.js';

interface Order {
  orderId: string;
  totalCents: number;
}
interface Charged {
  orderId: string;
  paymentId: string;
}
interface Declined {
  orderId: string;
  reason: string;
}
interface Refunded {
  orderId: string;
  paymentId: string;
}
interface PaymentLog {
  paymentId: string;
}

const record = (name: string, fields: Record<string, 'string' | 'int'>): AvroRecordSchema => ({
  type: 'record',
  name,
  namespace: 'com.acme.test',
  fields: Object.entries(fields).map(([n, type]) => ({ name: n, type })),
});
const OrderPlaced = defineEventType<Order>({
  name: 'com.acme.test.OrderPlaced',
  topic: 'orders',
  schema: record('OrderPlaced', { orderId: 'string', totalCents: 'int' }),
});
const PaymentCharged = defineEventType<Charged>({
  name: 'com.acme.test.PaymentCharged',
  topic: 'payments',
  schema: record('PaymentCharged', { orderId: 'string', paymentId: 'string' }),
});
const PaymentDeclined = defineEventType<Declined>({
  name: 'com.acme.test.PaymentDeclined',
  topic: 'payments',
  schema: record('PaymentDeclined', { orderId: 'string', reason: 'string' }),
});
const PaymentRefunded = defineEventType<Refunded>({
  name: 'com.acme.test.PaymentRefunded',
  topic: 'payments',
  schema: record('PaymentRefunded', { orderId: 'string', paymentId: 'string' }),
});

/** A payment step with every path: decline over a limit, a flaky gateway, no outcome for 0 cents, a refund. */
function paymentStep(gateway: { charges: number; down?: boolean }, seen: { attempt?: number } = {}) {
  return step<Order, Charged, Declined, PaymentLog, Refunded>({
    name: 'payment',
    on: OrderPlaced,
    completed: PaymentCharged,
    failed: PaymentDeclined,
    compensated: PaymentRefunded,
    handle: async ({ payload, ctx }) => {
      seen.attempt = ctx.attempt;
      if (payload.totalCents > 100_000) return ctx.fail({ orderId: payload.orderId, reason: 'limit exceeded' });
      if (payload.totalCents === 0) return; // forgot the outcome: the bug testStep makes visible
      const paymentId = await ctx.once(() => {
        if (gateway.down === true) return Promise.reject(new Error('gateway timeout'));
        gateway.charges += 1;
        return Promise.resolve(`pay-${payload.orderId}`);
      });
      await ctx.complete({ orderId: payload.orderId, paymentId }, { paymentId });
    },
    onGiveUp: ({ payload, error, ctx }) => ({ orderId: payload.orderId, reason: `${String(error)} after attempt ${ctx.attempt - 1}` }),
    compensate: async ({ log, ctx }) => {
      if (!log) return;
      await ctx.compensated({ orderId: ctx.sagaId, paymentId: log.paymentId });
    },
  });
}

describe('testStep', () => {
  it('completes: the completed event, the log its compensation will get, and nothing else emitted', async () => {
    const result = await testStep(paymentStep({ charges: 0 }), { orderId: 'o-1', totalCents: 4200 });
    expect(result.outcome).toBe('completed');
    expect(result.completed).toEqual({ payload: { orderId: 'o-1', paymentId: 'pay-o-1' }, log: { paymentId: 'pay-o-1' } });
    expect(result.failed).toBeUndefined();
    expect(result.emitted).toHaveLength(1);
    expect(result.emitted[0]).toMatchObject({ type: PaymentCharged.name, topic: 'payments', role: 'step-completed', step: 'payment' });
  });

  it('fails through ctx.fail', async () => {
    const result = await testStep(paymentStep({ charges: 0 }), { orderId: 'o-2', totalCents: 200_000 });
    expect(result.outcome).toBe('failed');
    expect(result.failed).toEqual({ payload: { orderId: 'o-2', reason: 'limit exceeded' }, byGiveUp: false });
    expect(result.emitted.map((e) => e.role)).toEqual(['step-failed']);
  });

  it('shows a handler that returns without an outcome as none (a saga that would hang)', async () => {
    const result = await testStep(paymentStep({ charges: 0 }), { orderId: 'o-3', totalCents: 0 });
    expect(result.outcome).toBe('none');
    expect(result.emitted).toEqual([]);
  });

  it('threw: the error, and the failure event onGiveUp builds once retries are used up', async () => {
    const result = await testStep(paymentStep({ charges: 0, down: true }), { orderId: 'o-4', totalCents: 10 }, { attempt: 3 });
    expect(result.outcome).toBe('threw');
    expect(result.error).toBeInstanceOf(Error);
    expect(result.failed).toEqual({ payload: { orderId: 'o-4', reason: 'Error: gateway timeout after attempt 3' }, byGiveUp: true });
  });

  it('passes attempt through to ctx.attempt', async () => {
    const seen: { attempt?: number } = {};
    await testStep(paymentStep({ charges: 0 }, seen), { orderId: 'o-5', totalCents: 10 }, { attempt: 2 });
    expect(seen.attempt).toBe(2);
    await expect(testStep(paymentStep({ charges: 0 }), { orderId: 'o-5', totalCents: 10 }, { attempt: 0 })).rejects.toMatchObject({
      code: 'INVALID_OPTIONS',
    });
  });

  it('runs the compensation with a log, and does nothing without one', async () => {
    const refunded = await testStep(
      paymentStep({ charges: 0 }),
      { anything: 'the trigger payload' },
      { log: { paymentId: 'pay-o-6' }, sagaId: 'o-6' },
    );
    expect(refunded.outcome).toBe('compensated');
    expect(refunded.compensated).toEqual({ payload: { orderId: 'o-6', paymentId: 'pay-o-6' } });
    expect(refunded.emitted[0]).toMatchObject({ role: 'compensated', step: 'payment', type: PaymentRefunded.name });

    const neverCharged = await testStep(paymentStep({ charges: 0 }), {}, { log: undefined });
    expect(neverCharged.outcome).toBe('none');
  });

  it('a redelivery (same event id, same store) reuses the ctx.once result: the card is charged once', async () => {
    const gateway = { charges: 0 };
    const store = new MemoryIdempotencyStore();
    const first = await testStep(paymentStep(gateway), { orderId: 'o-7', totalCents: 10 }, { store, eventId: 'e-7' });
    const again = await testStep(paymentStep(gateway), { orderId: 'o-7', totalCents: 10 }, { store, eventId: 'e-7' });
    expect(gateway.charges).toBe(1);
    expect(again.completed).toEqual(first.completed);
    // The emitted event's id is derived from the handled one: the same on redelivery.
    expect(again.emitted[0]?.envelope.id).toBe(first.emitted[0]?.envelope.id);
  });

  it('encodes payloads as on the wire: an invalid emitted payload fails as in production', async () => {
    const broken = step<Order, Charged, Declined>({
      name: 'payment',
      on: OrderPlaced,
      completed: PaymentCharged,
      failed: PaymentDeclined,
      handle: ({ payload, ctx }) => ctx.complete({ orderId: payload.orderId } as Charged),
      onGiveUp: ({ payload }) => ({ orderId: payload.orderId, reason: 'x' }),
    });
    const result = await testStep(broken, { orderId: 'o-8', totalCents: 1 });
    expect(result.outcome).toBe('threw');
    expect(result.error).toBeInstanceOf(SdkError);
    expect(result.error).toMatchObject({ code: 'PAYLOAD_INVALID' });
    // And an invalid input payload is refused before the handler runs.
    await expect(testStep(broken, { orderId: 'o-8' } as Order)).rejects.toMatchObject({ code: 'PAYLOAD_INVALID' });
  });

  it('refuses an on(...) handler with advice', async () => {
    await expect(
      testStep(
        on(OrderPlaced, () => Promise.resolve()),
        {},
      ),
    ).rejects.toThrow(/testStep runs saga steps/);
  });
});
