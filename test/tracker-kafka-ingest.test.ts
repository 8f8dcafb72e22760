import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { type SagaContract } from '@troupe/core';
import { MemorySchemaRegistry, defineEventType } from '@troupe/schema-registry';
import { SagaTracker, TrackerError } from '@troupe/saga-tracker';
import { createTopics, kafkaBrokers, testKafka, uniqueName, waitForValue } from '@troupe/testing';
import { SagaEventWriter, createSagaTopics, orderEvents, type SagaTopics } from './fixtures/tracker-kafka.js';
import { contracts } from './generated/events.js';

// The contract as the loader yields it from schemas/sagas/ (codegen keeps test/generated in step).
const CONTRACT: SagaContract = contracts['order-fulfillment'];

interface SagaJson {
  status: string;
  stuck: { stuck: boolean; reason?: string; participant?: string };
  failures: { kind: string; participant?: string; reason?: string }[];
  deadLetters: { topic: string; participant?: string; reason?: string }[];
  eventCount: number;
}

describe('tracker ingestion from a real broker', () => {
  let topics: SagaTopics;
  let writer: SagaEventWriter;
  let tracker: SagaTracker | undefined;
  const codec = new MemorySchemaRegistry();
  const run = uniqueName('s');

  beforeAll(async () => {
    topics = await createSagaTopics('trk-ingest');
    writer = await SagaEventWriter.create();
  });
  afterAll(async () => {
    await tracker?.close();
    await writer.close();
  });

  it('projects sagas from headers across topics, with duplicates, failure reasons and a dead letter', async () => {
    const ev = orderEvents(topics);
    const now = Date.now();
    const reservationFailed = defineEventType<{ orderId: string; unavailableSkus: string[]; reason: string }>({
      name: 'com.acme.inventory.InventoryReservationFailed',
      topic: topics.inventory,
      schema: {
        type: 'record',
        name: 'InventoryReservationFailed',
        namespace: 'com.acme.inventory',
        fields: [
          { name: 'orderId', type: 'string' },
          { name: 'unavailableSkus', type: { type: 'array', items: 'string' } },
          { name: 'reason', type: 'string' },
        ],
      },
    });
    const outOfStock = await codec.encode(reservationFailed, { orderId: `${run}-3`, unavailableSkus: ['sku-1'], reason: 'out of stock' });
    const chain = (id: string, specs: Parameters<typeof SagaEventWriter.chain>[1], startMs = now - 5_000) =>
      SagaEventWriter.chain(`${run}-${id}`, specs, { startMs });
    const completed = chain('1', [ev.placed, ev.charged, ev.reserved, ev.scheduled, ev.completed]);
    const declined = chain('2', [ev.placed, ev.declined]);
    const compensated = chain('3', [ev.placed, ev.charged, { ...ev.outOfStock, value: outOfStock }, ev.refunded, ev.cancelled]);
    const dead = chain('4', [ev.placed, ev.charged]);
    const charged = dead[1];
    if (charged === undefined) throw new Error('fixture');
    const deadLetter = {
      ...charged,
      topic: topics.paymentsDlq,
      headers: {
        ...charged.headers,
        troupe_dlq_reason: 'HANDLER_FAILED',
        troupe_dlq_error: 'inventory database unavailable',
        troupe_dlq_participant: 'inventory-service',
        troupe_dlq_topic: topics.payments,
      },
    };
    const stuck = chain('5', [ev.placed, ev.charged], now - 10 * 60_000);
    // Completed saga's events twice; the saga's events written newest topic first.
    await writer.send([...completed].reverse());
    await writer.send([...completed, ...declined, ...compensated, ...dead, deadLetter, ...stuck]);
    const noise = testKafka().producer();
    await noise.connect();
    await noise.send({ topic: topics.orders, messages: [{ key: 'x', value: 'not a saga event' }] });
    await noise.disconnect();

    const admin = testKafka().admin();
    await admin.connect();
    const before = (await admin.listTopics()).filter((t) => !t.startsWith('__')).sort();

    tracker = await SagaTracker.create({
      brokers: kafkaBrokers(),
      contracts: [CONTRACT],
      topics: [topics.orders, topics.payments, topics.inventory, topics.shipping],
      deadLetterPattern: new RegExp(`^${topics.orders.replace(/\.orders$/, '').replace(/\./g, '\\.')}\\.[a-z]+\\.dlq$`),
      ingest: { topicRefreshMs: 500 },
      codec,
      port: 0,
      logger: pino({ level: 'silent' }),
    });
    expect(tracker.ingest.topics).toContain(topics.paymentsDlq);
    const base = tracker.url;
    const get = async <T>(path: string): Promise<T> => (await (await fetch(`${base}${path}`)).json()) as T;

    const statuses = await waitForValue(
      async () => {
        const page = await get<{ items: { sagaId: string; status: string; eventCount: number }[] }>(`/api/sagas?prefix=${run}-&limit=10`);
        const events = page.items.reduce((n, s) => n + s.eventCount, 0);
        // 5 + 2 + 5 + 2 (+1 dead letter) + 2 distinct events
        return page.items.length === 5 && events === 17 ? Object.fromEntries(page.items.map((s) => [s.sagaId, s.status])) : undefined;
      },
      { description: 'all five sagas with all their events', timeoutMs: 60_000 },
    );
    expect(statuses).toEqual({
      [`${run}-1`]: 'completed',
      [`${run}-2`]: 'compensated',
      [`${run}-3`]: 'compensated',
      [`${run}-4`]: 'failed',
      [`${run}-5`]: 'running',
    });

    const s3 = await get<SagaJson>(`/api/sagas/${run}-3`);
    expect(s3.failures).toEqual([
      expect.objectContaining({ kind: 'step-failed', participant: 'inventory-service', reason: 'out of stock' }),
    ]);
    // Payloads are decoded only on request, through the registry; the other events carry plain bytes.
    const detail = await get<{ timeline: { type: string; payload?: unknown; payloadError?: string }[] }>(
      `/api/sagas/${run}-3?payloads=true`,
    );
    const failedEvent = detail.timeline.find((x) => x.type === 'com.acme.inventory.InventoryReservationFailed');
    expect(failedEvent?.payload).toEqual({ orderId: `${run}-3`, unavailableSkus: ['sku-1'], reason: 'out of stock' });
    expect(detail.timeline.find((x) => x.type === 'com.acme.orders.OrderPlaced')?.payloadError).toMatch(/Confluent/);
    const s4 = await get<SagaJson>(`/api/sagas/${run}-4`);
    expect(s4.deadLetters).toEqual([
      expect.objectContaining({
        topic: topics.paymentsDlq,
        participant: 'inventory-service',
        reason: 'HANDLER_FAILED: inventory database unavailable',
      }),
    ]);
    const s5 = await get<SagaJson>(`/api/sagas/${run}-5`);
    expect(s5.stuck).toMatchObject({ stuck: true, participant: 'inventory-service' });
    expect(s5.stuck.reason).toMatch(/^waiting \d+m( \d+s)? for InventoryReserved or InventoryReservationFailed from inventory-service/);

    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`troupe_tracker_messages_rejected_total\\{topic="${topics.orders}",reason="not-a-saga-event"\\} 1`));
    expect(await get<{ status: string }>('/health')).toMatchObject({ status: 'ok' });

    const after = (await admin.listTopics()).filter((t) => !t.startsWith('__')).sort();
    await admin.disconnect();
    expect(after).toEqual(before);
  });

  it('picks up a dead-letter topic created after it started', async () => {
    if (tracker === undefined) throw new Error('the first test starts the tracker');
    const ev = orderEvents(topics);
    const lateDlq = `${topics.inventory}.dlq`;
    const [placed, charged] = SagaEventWriter.chain(`${run}-6`, [ev.placed, ev.charged], { startMs: Date.now() });
    if (placed === undefined || charged === undefined) throw new Error('fixture');
    await writer.send([placed, charged]);
    const pattern = tracker.ingest.topics;
    expect(pattern).not.toContain(lateDlq);
    // A participant creates its DLQ on its first failure; the tracker must notice on its own.
    await createTopics([{ topic: lateDlq, partitions: 3 }]);
    await writer.send([
      { ...charged, topic: lateDlq, headers: { ...charged.headers, troupe_dlq_reason: 'HANDLER_FAILED', troupe_dlq_error: 'boom' } },
    ]);
    const s6 = await waitForValue(
      async () => {
        const res = await fetch(`${tracker?.url ?? ''}/api/sagas/${run}-6`);
        const body = res.ok ? ((await res.json()) as SagaJson) : undefined;
        return body?.status === 'failed' ? body : undefined;
      },
      { description: 'the late dead letter to be read', timeoutMs: 60_000 },
    );
    expect(s6.deadLetters).toEqual([expect.objectContaining({ topic: lateDlq, reason: 'HANDLER_FAILED: boom' })]);
    expect(tracker.ingest.topics).toContain(lateDlq);
  });

  it('gives a second memory-store instance the full picture (its own group reads every partition)', async () => {
    if (tracker === undefined) throw new Error('the first test starts the tracker');
    const second = await SagaTracker.create({
      brokers: kafkaBrokers(),
      contracts: [CONTRACT],
      topics: [topics.orders, topics.payments, topics.inventory, topics.shipping],
      deadLetterPattern: new RegExp(`^${topics.orders.replace(/\.orders$/, '').replace(/\./g, '\\.')}\\.[a-z]+\\.dlq$`),
      codec,
      port: 0,
      logger: pino({ level: 'silent' }),
    });
    try {
      expect(second.ingest.groupId).not.toBe(tracker.ingest.groupId);
      const ids = Array.from({ length: 6 }, (_, i) => `${run}-${i + 1}`);
      const first = tracker;
      await waitForValue(() => (second.ingest.eventsApplied >= first.ingest.eventsApplied ? true : undefined), {
        description: 'the second instance to catch up',
      });
      for (const id of ids) expect((await second.store.get(id))?.projection, id).toEqual((await first.store.get(id))?.projection);
    } finally {
      await second.close();
    }
  });

  it('refuses to start when a configured topic does not exist, and creates none', async () => {
    const missing = uniqueName('trk-missing');
    const err = await SagaTracker.create({
      brokers: kafkaBrokers(),
      topics: [missing],
      port: 0,
      ingest: { topicWaitMs: 500 },
      logger: pino({ level: 'silent' }),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TrackerError);
    expect((err as TrackerError).code).toBe('TOPIC_MISSING');
    expect((err as TrackerError).message).toContain(missing);
    const admin = testKafka().admin();
    await admin.connect();
    expect(await admin.listTopics()).not.toContain(missing);
    await admin.disconnect();
  });
});
