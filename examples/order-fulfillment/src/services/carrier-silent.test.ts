// The example's four services when the carrier never answers: at the contract's limit for shipping
// (1m, onTimeout: abort) the order service cancels the order and payment and inventory undo what
// they did. Virtual time: the minute passes in milliseconds.
import { parseEnvelope, readAbort } from '@troupe/core';
import { MemorySchemaRegistry } from '@troupe/schema-registry';
import { MemoryIdempotencyStore, MemoryTransport, Publisher, VirtualClock, type Participant } from '@troupe/sdk';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { contracts } from '../generated/events.js';
import { orderFor, seededRandom } from '../world.js';
import { SERVICE_NAMES, startService } from './index.js';
import { placeOrder } from './order-service.js';

const TOPICS = ['orders', 'payments', 'inventory', 'shipping'];

describe('the example when the carrier never answers', () => {
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of closers.splice(0).reverse()) await c();
  });

  it("cancels the order at shipping's one-minute limit; the payment is refunded and the stock released, once each", async () => {
    const clock = new VirtualClock(Date.UTC(2026, 11, 1, 9));
    const transport = await MemoryTransport.create({ clock });
    closers.push(() => transport.close());
    const codec = new MemorySchemaRegistry();
    const logger = pino({ level: 'silent' });
    const services: Participant[] = [];
    closers.push(async () => void (await Promise.all(services.map((s) => s.close()))));
    for (const name of SERVICE_NAMES) {
      services.push(await startService(name, { transport, codec, store: new MemoryIdempotencyStore(), logger, partitions: 1 }));
    }
    const publisher = await Publisher.create({
      transport,
      codec,
      source: 'order-service',
      contracts: [contracts['order-fulfillment']],
      topics: { partitions: 1 },
    });
    const random = seededRandom(11);
    await placeOrder(publisher, orderFor('silent-1', 'carrier-silent', random));
    await placeOrder(publisher, orderFor('happy-1', 'happy', random));
    await clock.settle();

    const events = (sagaId: string) =>
      TOPICS.flatMap((t) => transport.records(t))
        .map((r) => ({ env: parseEnvelope(r.headers), abort: readAbort(r.headers) }))
        .filter((x) => x.env.sagaId === sagaId);
    const types = (sagaId: string): string[] => events(sagaId).map((x) => x.env.type.slice(x.env.type.lastIndexOf('.') + 1));

    // Paid and reserved, then nothing from the carrier: nothing happens before the minute is up.
    expect(types('silent-1').sort()).toEqual(['InventoryReserved', 'OrderPlaced', 'PaymentCharged']);
    await clock.advance('59s');
    expect(types('silent-1')).not.toContain('OrderCancelled');

    await clock.advance('1s');
    expect(types('silent-1').sort()).toEqual([
      'InventoryReleased',
      'InventoryReserved',
      'OrderCancelled',
      'OrderPlaced',
      'PaymentCharged',
      'PaymentRefunded',
    ]);
    const cancelled = events('silent-1').find((x) => x.env.type === 'com.acme.orders.OrderCancelled');
    expect(cancelled?.abort).toEqual({
      cause: 'within',
      step: 'shipping',
      reason: 'step shipping did not answer within 1m',
      by: 'order-service',
    });
    expect(Date.parse(cancelled?.env.time ?? '')).toBe(Date.UTC(2026, 11, 1, 9, 1));
    // The happy order shipped in time and is left alone.
    expect(types('happy-1')).toContain('OrderCompleted');
    expect(types('happy-1')).not.toContain('OrderCancelled');

    // Much later, still once each: nothing is left reserved or charged, and nothing is undone twice.
    await clock.advance('10m');
    expect(types('silent-1').filter((t) => t === 'PaymentRefunded' || t === 'InventoryReleased' || t === 'OrderCancelled')).toHaveLength(3);
  });
});
