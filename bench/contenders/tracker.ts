// Tracker ingest next to a bare kafkajs consumer that only counts records: the same saga events
// (5 shapes of the order saga, 4 topics) read from the beginning by a fresh group.
import { randomBytes } from 'node:crypto';
import { Kafka, Partitioners, logLevel } from 'kafkajs';
import pg from 'pg';
import { pino } from 'pino';
import { toHeaders, type EventEnvelope } from '@troupe/core';
import { KafkaIngest, MemorySagaStore, PostgresSagaStore, type SagaStore, type TrackedEvent } from '@troupe/saga-tracker';
import { createTopics } from '../lib/step.js';
import { ORDER_CONTRACT, chain, type Kind } from '../../packages/saga-tracker/src/order-saga.fixture.js';

const SHAPES: readonly (readonly Kind[])[] = [
  ['placed', 'charged', 'reserved', 'scheduled', 'completed'],
  ['placed', 'charged', 'outOfStock', 'refunded', 'cancelled'],
  ['placed', 'charged', 'reserved', 'shipFailed', 'released'],
  ['placed', 'declined', 'cancelled'],
  ['placed', 'charged'],
];

export function sagaEvents(i: number, prefix: string, startMs: number): TrackedEvent[] {
  return chain(`${prefix}-${String(i).padStart(7, '0')}`, SHAPES[i % SHAPES.length] ?? [], {
    startMs: startMs + i * 10,
    gapMs: 50 + (i % 200),
  });
}

export const TRACKER_TOPICS = ['orders', 'payments', 'inventory', 'shipping'] as const;

/** Creates the 4 topics under `prefix` and writes `sagas` sagas to them; returns topics and event count. */
export async function produceSagaEvents(
  brokers: readonly string[],
  args: { prefix: string; sagas: number; partitions: number },
): Promise<{ topics: string[]; events: number }> {
  const kafka = new Kafka({ clientId: 'bench', brokers: [...brokers], logLevel: logLevel.ERROR });
  const topicOf = (t: string): string => `${args.prefix}.${t}`;
  const topics = TRACKER_TOPICS.map(topicOf);
  const admin = kafka.admin();
  await admin.connect();
  await createTopics(admin, { topics, partitions: args.partitions });
  await admin.disconnect();
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  let n = 0;
  const start = Date.now() - 3_600_000;
  for (let i = 0; i < args.sagas; i += 500) {
    const byTopic = new Map<string, { key: string; value: Buffer; headers: Record<string, string> }[]>();
    for (let j = i; j < Math.min(args.sagas, i + 500); j++) {
      for (const e of sagaEvents(j, 'bench', start)) {
        const env: EventEnvelope = {
          id: e.id,
          source: e.source,
          type: e.type,
          time: e.time,
          sagaId: e.sagaId,
          sagaType: e.sagaType,
          sagaRole: e.role,
          ...(e.step !== undefined ? { sagaStep: e.step } : {}),
          ...(e.causationId !== undefined ? { causationId: e.causationId } : {}),
        };
        const topic = topicOf(e.topic);
        let list = byTopic.get(topic);
        if (list === undefined) byTopic.set(topic, (list = []));
        list.push({ key: e.sagaId, value: randomBytes(120), headers: toHeaders(env) });
        n++;
      }
    }
    await producer.sendBatch({ topicMessages: [...byTopic.entries()].map(([topic, messages]) => ({ topic, messages })) });
  }
  await producer.disconnect();
  return { topics, events: n };
}

/**
 * Events/s of a bare consumer that counts records, from its first fetched batch to the last record
 * (group join is not counted; the first batch is taken off the count to match).
 */
export async function rawConsume(brokers: readonly string[], topics: readonly string[], total: number): Promise<number> {
  const kafka = new Kafka({ clientId: 'bench', brokers: [...brokers], logLevel: logLevel.ERROR });
  const consumer = kafka.consumer({ groupId: `bench-raw-${randomBytes(4).toString('hex')}`, maxWaitTimeInMs: 250 });
  await consumer.connect();
  await consumer.subscribe({ topics: [...topics], fromBeginning: true });
  let seen = 0;
  let t0 = 0;
  let first = 0;
  const rate = await new Promise<number>((resolve) => {
    void consumer.run({
      eachBatch: async ({ batch }) => {
        seen += batch.messages.length;
        if (t0 === 0) {
          t0 = performance.now();
          first = seen;
        }
        if (seen >= total) resolve(((total - first) / (performance.now() - t0)) * 1000);
        await Promise.resolve();
      },
    });
  });
  await consumer.disconnect();
  return rate;
}

/** Events/s of the tracker's Kafka ingest into `store`, counted the same way as {@link rawConsume}. */
export async function trackerConsume(
  brokers: readonly string[],
  store: SagaStore,
  args: { topics: readonly string[]; total: number },
): Promise<number> {
  const ingest = await KafkaIngest.create({
    brokers,
    store,
    topics: args.topics,
    groupId: `bench-trk-${randomBytes(4).toString('hex')}`,
    topicRefreshMs: 0,
    logger: pino({ level: 'silent' }),
  });
  while (ingest.eventsApplied === 0) await new Promise((r) => setTimeout(r, 2));
  const t0 = performance.now();
  const first = ingest.eventsApplied;
  while (ingest.eventsApplied < args.total) await new Promise((r) => setTimeout(r, 2));
  const rate = ((args.total - first) / (performance.now() - t0)) * 1000;
  await ingest.close();
  return rate;
}

export const memoryStore = (): Promise<MemorySagaStore> => MemorySagaStore.create({ contracts: [ORDER_CONTRACT] });

/** A PostgreSQL store in a fresh schema; `drop` removes the schema again. */
export async function postgresStore(url: string): Promise<{ store: PostgresSagaStore; schema: string; drop: () => Promise<void> }> {
  const schema = `bench_${randomBytes(4).toString('hex')}`;
  const store = await PostgresSagaStore.create({ connectionString: url, schema, contracts: [ORDER_CONTRACT] });
  return {
    store,
    schema,
    drop: async () => {
      await store.close();
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await c.end();
    },
  };
}
