import { ABORT_HEADER, toHeaders, isDeadLetterTopic } from '@troupe/core';
import { MemorySchemaRegistry, defineEventType } from '@troupe/schema-registry';
import type { EventEnvelope } from '@troupe/core';
import { describe, expect, it } from 'vitest';
import { attributeLookup, toTrackedEvent } from './to-tracked-event.js';

const env: EventEnvelope = {
  id: 'e-2',
  source: 'payment-service',
  type: 'com.acme.payments.PaymentDeclined',
  time: '2026-11-23T09:00:01.000Z',
  sagaId: 'o-1',
  sagaType: 'order-fulfillment',
  sagaRole: 'step-failed',
  sagaStep: 'payment',
  causationId: 'e-1',
};
const wire = (h: Record<string, string>): Record<string, Buffer> =>
  Object.fromEntries(Object.entries(h).map(([k, v]) => [k, Buffer.from(v)]));

describe('toTrackedEvent', () => {
  it("reads the contract's business attributes from the payload, as text, when a codec is given", async () => {
    const codec = new MemorySchemaRegistry();
    const placedType = defineEventType<{
      orderId: string;
      customerId: string;
      shipTo: { country: string; zip: string | null };
      total: number;
    }>({
      name: 'com.acme.orders.OrderPlaced',
      topic: 'orders',
      schema: {
        type: 'record',
        name: 'OrderPlaced',
        namespace: 'com.acme.orders',
        fields: [
          { name: 'orderId', type: 'string' },
          { name: 'customerId', type: 'string' },
          {
            name: 'shipTo',
            type: {
              type: 'record',
              name: 'Addr',
              fields: [
                { name: 'country', type: 'string' },
                { name: 'zip', type: ['null', 'string'] },
              ],
            },
          },
          { name: 'total', type: 'long' },
        ],
      },
    });
    const value = await codec.encode(placedType, { orderId: 'o-1', customerId: 'c-42', shipTo: { country: 'DE', zip: null }, total: 1299 });
    const placed: EventEnvelope = { ...env, id: 'e-1', type: 'com.acme.orders.OrderPlaced', sagaRole: 'start', source: 'order-service' };
    const attributesOf = attributeLookup([
      {
        saga: 'order-fulfillment',
        start: 'com.acme.orders.OrderPlaced',
        steps: [],
        end: { completed: 'x.Done', aborted: 'x.Aborted' },
        attributes: [
          { name: 'customerId', from: 'com.acme.orders.OrderPlaced', path: ['customerId'] },
          { name: 'country', from: 'com.acme.orders.OrderPlaced', path: ['shipTo', 'country'] },
          { name: 'zip', from: 'com.acme.orders.OrderPlaced', path: ['shipTo', 'zip'] },
          { name: 'total', from: 'com.acme.orders.OrderPlaced', path: ['total'] },
        ],
      },
    ]);
    const record = { topic: 'orders', partition: 0, offset: '1', value, headers: wire(toHeaders(placed)) };
    const r = await toTrackedEvent(record, { isDeadLetterTopic, codec, attributesOf });
    expect(r.ok && r.event.attributes).toEqual({ customerId: 'c-42', country: 'DE', total: '1299' });
    // Without a codec the payload cannot be read: no attributes, the event still counts.
    const plain = await toTrackedEvent(record, { isDeadLetterTopic, attributesOf });
    expect(plain.ok && plain.event.attributes).toBeUndefined();
  });

  it('reads the envelope from headers and keeps the payload for the detail view only', async () => {
    const r = await toTrackedEvent(
      { topic: 'payments', partition: 2, offset: '17', value: Buffer.from('opaque'), headers: wire(toHeaders(env)) },
      { isDeadLetterTopic },
    );
    expect(r).toEqual({
      ok: true,
      event: {
        id: 'e-2',
        type: 'com.acme.payments.PaymentDeclined',
        source: 'payment-service',
        time: '2026-11-23T09:00:01.000Z',
        sagaId: 'o-1',
        sagaType: 'order-fulfillment',
        role: 'step-failed',
        step: 'payment',
        causationId: 'e-1',
        topic: 'payments',
        partition: 2,
        offset: '17',
        payload: Buffer.from('opaque').toString('base64'),
      },
    });
  });

  it('reads who aborted the saga and why from the abort headers; a dead-lettered copy does not carry the abort', async () => {
    const cancelled: EventEnvelope = {
      ...env,
      id: 'e-9',
      type: 'com.acme.orders.OrderCancelled',
      sagaRole: 'end',
      source: 'order-service',
    };
    const headers = wire({
      ...toHeaders(cancelled),
      [ABORT_HEADER.cause]: 'operator',
      [ABORT_HEADER.step]: 'inventory',
      [ABORT_HEADER.reason]: 'customer called',
      [ABORT_HEADER.by]: 'alice',
    });
    const r = await toTrackedEvent({ topic: 'orders', partition: 0, offset: '3', value: null, headers }, { isDeadLetterTopic });
    expect(r.ok && r.event.abort).toEqual({ cause: 'operator', step: 'inventory', reason: 'customer called', by: 'alice' });
    const copy = await toTrackedEvent({ topic: 'orders.dlq', partition: 0, offset: '0', value: null, headers }, { isDeadLetterTopic });
    expect(copy.ok && copy.event.deadLetter !== undefined && copy.event.abort).toBeUndefined();

    // onTimeout: fail-step: the failure the initiator emitted on the step's behalf says why in the abort headers.
    const failed = await toTrackedEvent(
      {
        topic: 'payments',
        partition: 0,
        offset: '4',
        value: null,
        headers: wire({
          ...toHeaders(env),
          [ABORT_HEADER.cause]: 'within',
          [ABORT_HEADER.reason]: 'step payment did not answer within 30s',
        }),
      },
      { isDeadLetterTopic },
    );
    expect(failed.ok && [failed.event.reason, failed.event.abort?.cause]).toEqual(['step payment did not answer within 30s', 'within']);
    // Any other value of the cause header is not an abort.
    const odd = await toTrackedEvent(
      {
        topic: 'orders',
        partition: 0,
        offset: '5',
        value: null,
        headers: wire({ ...toHeaders(cancelled), [ABORT_HEADER.cause]: 'bored' }),
      },
      { isDeadLetterTopic },
    );
    expect(odd.ok && odd.event.abort).toBeUndefined();
  });

  it('reads a failure reason from the payload when no header carries one', async () => {
    const codec = new MemorySchemaRegistry();
    const type = defineEventType<{ orderId: string; reason: string; detail: string | null }>({
      name: 'com.acme.payments.PaymentDeclined',
      topic: 'payments',
      schema: {
        type: 'record',
        name: 'PaymentDeclined',
        namespace: 'com.acme.payments',
        fields: [
          { name: 'orderId', type: 'string' },
          { name: 'reason', type: 'string' },
          { name: 'detail', type: ['null', 'string'], default: null },
        ],
      },
    });
    const value = await codec.encode(type, { orderId: 'o-1', reason: 'INSUFFICIENT_FUNDS', detail: 'limit reached' });
    const r = await toTrackedEvent(
      { topic: 'payments', partition: 0, offset: '0', value, headers: wire(toHeaders(env)) },
      { isDeadLetterTopic, codec },
    );
    expect(r.ok && r.event.reason).toBe('INSUFFICIENT_FUNDS: limit reached');
  });

  it('records a dead-letter copy with the reason and participant from its headers', async () => {
    const headers = wire({
      ...toHeaders({ ...env, sagaRole: 'step-completed', type: 'com.acme.payments.PaymentCharged' }),
      troupe_dlq_reason: 'HANDLER_FAILED',
      troupe_dlq_error: 'inventory db down',
      troupe_dlq_participant: 'inventory-service',
      troupe_dlq_topic: 'payments',
    });
    const r = await toTrackedEvent({ topic: 'payments.dlq', partition: 0, offset: '3', value: null, headers }, { isDeadLetterTopic });
    expect(r.ok && r.event.deadLetter).toEqual({
      topic: 'payments.dlq',
      reason: 'HANDLER_FAILED: inventory db down',
      participant: 'inventory-service',
      headers: {
        troupe_dlq_reason: 'HANDLER_FAILED',
        troupe_dlq_error: 'inventory db down',
        troupe_dlq_participant: 'inventory-service',
        troupe_dlq_topic: 'payments',
      },
    });
  });

  it('reads unknown dead-letter header conventions defensively', async () => {
    const headers = wire({ ...toHeaders(env), 'x-exception-message': 'boom', 'x-consumer-group': 'shipping-service' });
    const r = await toTrackedEvent({ topic: 'payments.dlq', partition: 0, offset: '3', value: null, headers }, { isDeadLetterTopic });
    expect(r.ok && r.event.deadLetter?.reason).toBe('boom');
    expect(r.ok && r.event.deadLetter?.participant).toBe('shipping-service');
  });

  it('rejects a record without a saga envelope, naming the problems', async () => {
    const r = await toTrackedEvent(
      { topic: 'payments', partition: 0, offset: '0', value: null, headers: wire({ ce_id: 'x' }) },
      { isDeadLetterTopic },
    );
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toContain('missing header ce_sagaid');
  });
});
