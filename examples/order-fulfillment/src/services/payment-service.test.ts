// The payment step on its own, with @troupe/testing's testStep: no transport, no broker.
import { testStep } from '@troupe/testing';
import { describe, expect, it } from 'vitest';
import { ShipmentFailed, type OrderPlaced } from '../generated/events.js';
import { paymentHandlers } from './payment-service.js';

const [payment] = paymentHandlers();
if (!payment) throw new Error('paymentHandlers() returns the payment step');

const order: OrderPlaced = {
  orderId: 'o-1',
  customerId: 'cust-1',
  totalCents: 4200,
  currency: 'EUR',
  items: [{ sku: 'SKU-1', quantity: 2, unitPriceCents: 2100 }],
  shippingAddress: { line1: 'Main St 1', city: 'Berlin', postalCode: '10115', country: 'DE' },
};

describe('payment step', () => {
  it('charges the order total and records what a refund needs', async () => {
    const result = await testStep(payment, order);
    expect(result.outcome).toBe('completed');
    expect(result.completed?.payload).toMatchObject({ orderId: 'o-1', amountCents: 4200, currency: 'EUR', method: 'CARD' });
    expect(result.completed?.log).toEqual({ paymentId: expect.stringMatching(/^pay-/) as unknown, amountCents: 4200, currency: 'EUR' });
  });

  it('declines an expired card with CARD_EXPIRED', async () => {
    const result = await testStep(payment, { ...order, customerId: 'cust-expired-1' });
    expect(result.outcome).toBe('failed');
    expect(result.failed?.payload).toMatchObject({ reason: 'CARD_EXPIRED' });
  });

  it('refunds what it charged when shipping fails, naming the trigger', async () => {
    const charged = await testStep(payment, order);
    const shipmentFailed: ShipmentFailed = { orderId: 'o-1', reason: 'NO_CARRIER_AVAILABLE' };
    const refund = await testStep(payment, shipmentFailed, { log: charged.completed?.log, trigger: ShipmentFailed, sagaId: 'o-1' });
    expect(refund.outcome).toBe('compensated');
    expect(refund.compensated?.payload).toEqual({
      ...(charged.completed?.log as object),
      orderId: 'o-1',
      reason: 'ShipmentFailed after payment',
    });
  });

  it('refunds nothing for a saga it never charged', async () => {
    expect((await testStep(payment, {}, { log: undefined })).outcome).toBe('none');
  });
});
