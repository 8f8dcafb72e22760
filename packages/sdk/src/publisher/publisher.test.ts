import { MemorySchemaRegistry } from '@troupe/schema-registry';
import { describe, expect, it } from 'vitest';
import { SdkError } from '../errors.js';
import { MemoryTransport } from '../transport/memory/memory-transport.js';
import { orderSaga } from '../participant/order-saga.fixture.js';
import { Publisher } from './publisher.js';

describe('Publisher', () => {
  it('refuses an invalid payload with PAYLOAD_INVALID naming the field, and sends nothing', async () => {
    const transport = await MemoryTransport.create();
    const saga = orderSaga('pub');
    const publisher = await Publisher.create({
      transport,
      codec: new MemorySchemaRegistry(),
      source: 'order-service',
      contracts: [saga.contract],
    });
    const bad = { orderId: 'o-1', amount: 'a lot' } as unknown as { orderId: string; amount: number };
    const err = await publisher.publish(saga.events.OrderPlaced, bad, { sagaId: 'o-1' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SdkError);
    expect(err).toMatchObject({ code: 'PAYLOAD_INVALID', retriable: false });
    expect((err as Error).message).toContain('amount');
    expect(transport.records(saga.events.OrderPlaced.topic)).toHaveLength(0);
  });

  it('keys by saga id and derives saga type and role from the contract', async () => {
    const transport = await MemoryTransport.create();
    const saga = orderSaga('pub2');
    const publisher = await Publisher.create({
      transport,
      codec: new MemorySchemaRegistry(),
      source: 'order-service',
      contracts: [saga.contract],
    });
    const env = await publisher.publish(saga.events.OrderPlaced, { orderId: 'o-2', amount: 1 }, { sagaId: 'o-2' });
    expect(env).toMatchObject({
      sagaType: 'order-fulfillment',
      sagaRole: 'start',
      source: 'order-service',
      type: saga.events.OrderPlaced.name,
    });
    expect(env.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    const [msg] = transport.records(saga.events.OrderPlaced.topic);
    expect(msg?.key?.toString()).toBe('o-2');
    await expect(publisher.publish(saga.events.PaymentCharged, { orderId: 'x', chargeId: 'c' }, { sagaId: '' })).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
    });
  });
});
