// Issue 14 item 4: search by business attributes declared in the contract (read from Avro payloads
// on a real broker), by participant, event type and failure reason — on both stores.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { SagaContract } from '@troupe/core';
import { MemorySchemaRegistry } from '@troupe/schema-registry';
import { SagaTracker, type SagaListResponse, type SagaTrackerOptions } from '@troupe/saga-tracker';
import { kafkaBrokers, uniqueName, waitForValue } from '@troupe/testing';
import { SagaEventWriter, createSagaTopics, orderEvents, type SagaTopics } from './fixtures/tracker-kafka.js';
import { OrderPlaced, contracts } from './generated/events.js';

const CONTRACT: SagaContract = contracts['order-fulfillment'];
const PG_URL = process.env['TROUPE_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

describe('tracker search on a real broker', () => {
  let topics: SagaTopics;
  let writer: SagaEventWriter;
  const codec = new MemorySchemaRegistry();
  const run = uniqueName('srch');
  const schema = `trk_search_${run.replace(/[^a-z0-9]/g, '_')}`.slice(0, 60);
  const trackers: SagaTracker[] = [];

  beforeAll(async () => {
    topics = await createSagaTopics('trk-search');
    writer = await SagaEventWriter.create();
    const ev = orderEvents(topics);
    const placed = async (customerId: string, country: string) => ({
      ...ev.placed,
      value: await codec.encode(OrderPlaced, {
        orderId: 'o',
        customerId,
        items: [{ sku: 'sku-1', quantity: 1, unitPriceCents: 500 }],
        totalCents: 500,
        currency: 'EUR',
        shippingAddress: { line1: 'Main St 1', line2: null, city: 'X', postalCode: '1', country },
        couponCode: null,
      }),
    });
    const startMs = Date.now() - 60_000;
    const chain = (id: string, specs: Parameters<typeof SagaEventWriter.chain>[1]) =>
      SagaEventWriter.chain(`${run}-${id}`, specs, { startMs });
    await writer.send([
      ...chain('1', [await placed('c-42', 'DE'), ev.charged, ev.reserved]),
      ...chain('2', [
        await placed('c-42', 'FR'),
        { ...ev.declined, extraHeaders: { troupe_reason: 'CARD_EXPIRED: the card has expired' } },
      ]),
      ...chain('3', [await placed('c-7', 'DE'), ev.charged]),
    ]);
  });
  afterAll(async () => {
    await Promise.all(trackers.map((t) => t.close()));
    await writer.close();
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await c.end();
  });

  const stores: [string, SagaTrackerOptions['store']][] = [
    ['memory', { kind: 'memory' }],
    ['postgres', { kind: 'postgres', url: PG_URL, schema }],
  ];
  for (const [name, store] of stores) {
    it(`finds sagas by attribute, participant, event type and failure reason (${name} store)`, async () => {
      const tracker = await SagaTracker.create({
        brokers: kafkaBrokers(),
        contracts: [CONTRACT],
        topics: [topics.orders, topics.payments, topics.inventory, topics.shipping],
        codec,
        store,
        groupId: uniqueName(`trk-search-${name}`),
        port: 0,
        logger: pino({ level: 'silent' }),
      });
      trackers.push(tracker);
      const ids = async (query: string): Promise<string[]> => {
        const page = (await (await fetch(`${tracker.url}/api/sagas?prefix=${run}-&${query}`)).json()) as SagaListResponse;
        return page.items.map((s) => s.sagaId.slice(run.length + 1)).sort();
      };
      await waitForValue(
        async () => {
          const page = (await (await fetch(`${tracker.url}/api/sagas?prefix=${run}-`)).json()) as SagaListResponse;
          return page.items.reduce((n, x) => n + x.eventCount, 0) === 7 ? true : undefined;
        },
        { description: 'all seven events of the three sagas', timeoutMs: 60_000 },
      );
      expect(await ids('attr.customerId=c-42')).toEqual(['1', '2']);
      expect(await ids('attr.customerId=c-42&attr.country=DE')).toEqual(['1']);
      expect(await ids('attr.country=DE')).toEqual(['1', '3']);
      expect(await ids('attr.customerId=nobody')).toEqual([]);
      expect(await ids('participant=inventory-service')).toEqual(['1']);
      expect(await ids('eventType=com.acme.payments.PaymentDeclined')).toEqual(['2']);
      expect(await ids('reason=card%20HAS%20expired')).toEqual(['2']);
      const page = (await (await fetch(`${tracker.url}/api/sagas?prefix=${run}-3`)).json()) as SagaListResponse;
      expect(page.items[0]?.attributes).toEqual({ customerId: 'c-7', country: 'DE' });
      const bad = await fetch(`${tracker.url}/api/sagas?attr.bad-name=x`);
      expect(bad.status).toBe(400);
    });
  }
});
