// The tracker keeps reading after a failed resubscription: when a new topic appears and the restart
// fails (here: its store is briefly unavailable), health says so and the next refresh recovers.
import { KafkaIngest, MemorySagaStore, type SagaStore } from '@troupe/saga-tracker';
import { toHeaders } from '@troupe/core';
import { createTopics, kafkaBrokers, testKafka, uniqueName, waitFor } from '@troupe/testing';
import { Partitioners } from 'kafkajs';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';

const event = (sagaId: string, id: string, role: 'start' | 'step-completed') =>
  toHeaders({
    id,
    source: 'order-service',
    type: role === 'start' ? 'com.acme.orders.OrderPlaced' : 'com.acme.payments.PaymentCharged',
    time: new Date().toISOString(),
    sagaId,
    sagaType: 'order-fulfillment',
    sagaRole: role,
    ...(role === 'start' ? {} : { sagaStep: 'payment', causationId: `${sagaId}-placed` }),
  });

describe('tracker ingestion', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const fn of cleanup.reverse()) await fn().catch(() => undefined);
  });

  it('reports a failed resubscription as unhealthy and recovers on the next refresh, reading the new topic', async () => {
    const prefix = uniqueName('recover');
    const orders = `${prefix}.orders`;
    const dlq = `${prefix}.payments.dlq`;
    await createTopics([{ topic: orders, partitions: 1 }]);
    const producer = testKafka().producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    cleanup.push(() => producer.disconnect());
    await producer.send({
      topic: orders,
      messages: [{ key: `${prefix}-1`, value: null, headers: event(`${prefix}-1`, `${prefix}-placed`, 'start') }],
    });

    // The store becomes unavailable for a few calls of `offsets`, which every (re)start makes.
    const inner = await MemorySagaStore.create({ contracts: [] });
    let failures = 0;
    const store = new Proxy(inner, {
      get(target, key, receiver) {
        if (key === 'offsets' && failures > 0) {
          return () => {
            failures -= 1;
            return Promise.reject(new Error('store unavailable'));
          };
        }
        const value: unknown = Reflect.get(target, key, receiver);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    }) as SagaStore;

    const ingest = await KafkaIngest.create({
      brokers: kafkaBrokers(),
      store,
      topics: [orders],
      deadLetterPattern: new RegExp(`^${prefix.replace(/[.-]/g, '\\$&')}\\..*\\.dlq$`),
      topicRefreshMs: 300,
      groupId: uniqueName('recover-group'),
      logger: pino({ level: 'silent' }),
    });
    cleanup.push(() => ingest.close());
    await waitFor(async () => (await inner.get(`${prefix}-1`)) !== undefined, { description: 'the first event', timeoutMs: 60_000 });
    expect(ingest.health().ok).toBe(true);

    failures = 3;
    await createTopics([{ topic: dlq, partitions: 1 }]);
    await producer.send({
      topic: dlq,
      messages: [
        {
          key: `${prefix}-1`,
          value: null,
          headers: { ...event(`${prefix}-1`, `${prefix}-charged`, 'step-completed'), troupe_dlq_reason: 'HANDLER_FAILED' },
        },
      ],
    });
    await waitFor(() => !ingest.health().ok, { description: 'health to report the failed restart', timeoutMs: 60_000, intervalMs: 20 });
    expect(ingest.health()).toMatchObject({ ok: false, consumer: 'restarting', lastError: 'store unavailable' });

    await waitFor(() => ingest.health().ok, { description: 'the next refresh to recover', timeoutMs: 60_000 });
    expect(ingest.topics).toContain(dlq);
    const saga = await waitFor(async () => ((await inner.get(`${prefix}-1`))?.projection.deadLetters.length ?? 0) > 0, {
      description: 'the dead letter from the new topic',
      timeoutMs: 60_000,
    }).then(() => inner.get(`${prefix}-1`));
    expect(saga?.projection.status).toBe('failed');
  });
});
