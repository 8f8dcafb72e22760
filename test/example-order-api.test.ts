// The example order service's POST /orders on real PostgreSQL: the order row and its OrderPlaced
// (an outbox row) commit together; placing the same order id again stores and starts nothing; an
// order too large for the orders topic stores nothing and is answered 413.
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { MemorySchemaRegistry } from '@troupe/schema-registry';
import { MemoryTransport, PostgresOutbox, Publisher } from '@troupe/sdk';
import { contracts } from '../examples/order-fulfillment/src/generated/events.js';
import { startOrderApi } from '../examples/order-fulfillment/src/services/order-api.js';
import { OrderDesk } from '../examples/order-fulfillment/src/services/order-desk.js';
import { orderFor, seededRandom } from '../examples/order-fulfillment/src/world.js';

const PG_URL = process.env['TROUPE_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

describe('example order service: POST /orders', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
  });

  it('stores the order and its saga start together, once per order id; an invalid or too large order stores nothing', async () => {
    const schema = `example_${randomBytes(5).toString('hex')}`;
    const outbox = await PostgresOutbox.create({ connectionString: PG_URL, schema, poolSize: 3 });
    cleanup.push(async () => {
      await outbox.pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await outbox.close();
    });
    const transport = await MemoryTransport.create();
    cleanup.push(() => transport.close());
    const codec = await MemorySchemaRegistry.create();
    const publisher = await Publisher.create({
      transport,
      codec,
      source: 'order-service',
      contracts: [contracts['order-fulfillment']],
      outbox,
    });
    const desk = await OrderDesk.create({ outbox, publisher, table: `${schema}.orders` });
    const api = await startOrderApi(desk, 0, '127.0.0.1');
    cleanup.push(() => api.close());

    const order = orderFor('order-api-1', 'happy', seededRandom(1));
    const post = (body: unknown) =>
      fetch(`${api.url}/orders`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    expect((await post(order)).status).toBe(201);
    expect((await post(order)).status).toBe(200);
    const invalid = await post({ ...order, orderId: 'order-api-2', totalCents: 'a lot' });
    expect(invalid.status).toBe(400);
    // Larger than the orders topic takes (the memory transport's default max.message.bytes): refused
    // before anything is stored, and not worth retrying (the shop retries only 5xx).
    const huge = await post({
      ...order,
      orderId: 'order-api-3',
      shippingAddress: { ...order.shippingAddress, line1: 'x'.repeat(2_000_000) },
    });
    expect(huge.status).toBe(413);
    expect(((await huge.json()) as { error: string }).error).toContain('MESSAGE_TOO_LARGE');

    const count = (await (await fetch(`${api.url}/orders/count?prefix=order-api-`)).json()) as { orders: number };
    expect(count.orders).toBe(1);
    const rows = await outbox.pool.query<{ saga_id: string; event_type: string }>(`SELECT saga_id, event_type FROM ${schema}.outbox`);
    expect(rows.rows).toEqual([{ saga_id: 'order-api-1', event_type: 'com.acme.orders.OrderPlaced' }]);
  });
});
