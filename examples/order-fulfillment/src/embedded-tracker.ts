import type { AddressInfo } from 'node:net';
import type { SagaContract } from '@troupe/core';
import type { EventCodec, EventType } from '@troupe/schema-registry';
import { MemorySagaStore, buildTrackerApp, toTrackedEvent, topicsOfContracts, type TrackedEvent } from '@troupe/saga-tracker';
import { defaultDeadLetterTopic, type ConsumerHandle, type Transport } from '@troupe/sdk';

export interface EmbeddedTracker {
  readonly url: string;
  readonly store: MemorySagaStore;
  close(): Promise<void>;
}

/**
 * The saga tracker on the in-process transport: the same projection, store and HTTP app as
 * `troupe-tracker`, fed by a consumer group of the memory transport instead of Kafka. (The tracker
 * package does not depend on the SDK; composing them is the application's job.)
 */
export async function startEmbeddedTracker(opts: {
  transport: Transport;
  codec: EventCodec;
  contracts: readonly SagaContract[];
  events: readonly EventType[];
  port: number;
  host?: string;
}): Promise<EmbeddedTracker> {
  const topicOf = new Map(opts.events.map((e) => [e.name, e.topic]));
  const sagaTopics = topicsOfContracts(opts.contracts, (t) => topicOf.get(t));
  const dlqTopics = sagaTopics.map((t) => defaultDeadLetterTopic(t));
  const dlq = new Set(dlqTopics);
  // A read-only reader creates nothing on Kafka; in memory, a topic must exist to be subscribed.
  await opts.transport.ensureTopics([...sagaTopics, ...dlqTopics].map((topic) => ({ topic, partitions: 3, replicationFactor: 1 })));
  const store = await MemorySagaStore.create({ contracts: opts.contracts });
  const consumer: ConsumerHandle = await opts.transport.consume({
    groupId: 'troupe-tracker',
    topics: [...sagaTopics, ...dlqTopics],
    fromBeginning: true,
    delivery: 'at-least-once',
    transactionalIdPrefix: 'troupe-tracker',
    maxBatchSize: 500,
    concurrency: 16,
    handle: async (batch) => {
      const events: TrackedEvent[] = [];
      for (const m of batch.messages) {
        const converted = await toTrackedEvent(
          { topic: m.topic, partition: m.partition, offset: m.offset, value: m.value, headers: m.headers },
          { isDeadLetterTopic: (t) => dlq.has(t), codec: opts.codec },
        );
        if (converted.ok) events.push(converted.event);
      }
      await store.apply({ events });
      return { outputs: [], processed: batch.messages.length };
    },
  });
  const app = buildTrackerApp({ store, contracts: opts.contracts, codec: opts.codec });
  try {
    await app.listen({ port: opts.port, host: opts.host ?? '127.0.0.1' });
  } catch (err) {
    await consumer.stop();
    await store.close();
    const inUse = (err as NodeJS.ErrnoException).code === 'EADDRINUSE';
    throw new Error(
      inUse
        ? `port ${opts.port} is in use: pass --port N for another one (--port 0 picks a free one)`
        : `the tracker cannot listen: ${String(err)}`,
      { cause: err },
    );
  }
  const addr = app.server.address() as AddressInfo;
  return {
    url: `http://${addr.address}:${addr.port}`,
    store,
    close: async () => {
      await app.close();
      await consumer.stop();
      await store.close();
    },
  };
}
