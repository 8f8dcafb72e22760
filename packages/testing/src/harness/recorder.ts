import { randomBytes } from 'node:crypto';
import { KafkaTransport, MARKER_HEADER, MemoryTransport, type InboundMessage, type Transport } from '@troupe/sdk';
import { KafkaReader } from '@troupe/kafka';

const SENTINEL_HEADER = MARKER_HEADER;

/**
 * Records every committed record of some topics, on either transport: on memory by listening to
 * appends, on Kafka with a `read_committed` consumer of its own (so it sees what a downstream
 * service would see: aborted transactions never, committed ones once).
 */
export interface Recorder {
  readonly records: readonly InboundMessage[];
  /** Calls `listener` after each recorded record; returns the function that unsubscribes. */
  onRecord(listener: () => void): () => void;
  /**
   * Resolves once everything committed to the topics up to now has been recorded. On Kafka it
   * writes a marker record to every partition and waits for all markers, so a test can count
   * records exactly (no "wait a bit and hope") once the services it runs are stopped.
   */
  settle(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

export async function createRecorder(transport: Transport, topics: readonly string[], partitions: number): Promise<Recorder> {
  if (transport instanceof MemoryTransport) return memoryRecorder(transport, topics);
  if (transport instanceof KafkaTransport) return kafkaRecorder(transport, topics, partitions);
  throw new Error(`the harness supports MemoryTransport and KafkaTransport, not ${transport.kind}`);
}

function memoryRecorder(transport: MemoryTransport, topics: readonly string[]): Recorder {
  const wanted = new Set(topics);
  const records: InboundMessage[] = topics.flatMap((t) => transport.records(t));
  const listeners = new Set<() => void>();
  const off = transport.onAppend((m) => {
    if (!wanted.has(m.topic)) return;
    records.push(m);
    for (const l of listeners) l();
  });
  return {
    records,
    onRecord: (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    // Appends are synchronous in memory: what is committed is already recorded.
    settle: () => Promise.resolve(),
    close: () => {
      off();
      return Promise.resolve();
    },
  };
}

async function kafkaRecorder(transport: KafkaTransport, topics: readonly string[], partitions: number): Promise<Recorder> {
  const records: InboundMessage[] = [];
  const listeners = new Set<() => void>();
  const sentinels = new Set<string>();
  const sentinelListeners = new Set<() => void>();
  // KRaft brokers refuse to serve unknown topics; create the missing ones the way participants would.
  await transport.ensureTopics(topics.map((topic) => ({ topic, partitions })));
  const reader = await KafkaReader.start(transport.kafka, {
    groupId: `troupe-harness-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`,
    topics,
    commits: 'auto',
    maxWaitTimeMs: 200,
    handle: (batch) => {
      for (const record of batch.records) {
        const sentinel = record.headers[SENTINEL_HEADER];
        if (sentinel !== undefined) {
          sentinels.add(String(sentinel));
          for (const l of sentinelListeners) l();
        } else {
          records.push(record);
          for (const l of listeners) l();
        }
        batch.resolveOffset(record.offset);
      }
      return Promise.resolve();
    },
  });
  return {
    records,
    onRecord: (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    settle: async (timeoutMs) => {
      const counts = await transport.partitionCounts(topics);
      const id = randomBytes(6).toString('hex');
      const expected: string[] = [];
      const markers = [...counts].flatMap(([topic, n]) =>
        Array.from({ length: n }, (_, partition) => {
          const marker = `${id}:${topic}:${partition}`;
          expected.push(marker);
          return { topic, partition, key: null, value: null, headers: { [SENTINEL_HEADER]: marker } };
        }),
      );
      await transport.send(markers);
      await new Promise<void>((resolve, reject) => {
        const check = (): void => {
          if (expected.every((m) => sentinels.has(m))) {
            clearTimeout(timer);
            sentinelListeners.delete(check);
            resolve();
          }
        };
        const timer = setTimeout(() => {
          sentinelListeners.delete(check);
          reject(new Error(`harness: markers not read back within ${timeoutMs} ms; is a transaction left open on ${topics.join(', ')}?`));
        }, timeoutMs);
        sentinelListeners.add(check);
        check();
      });
    },
    close: () => reader.stop(),
  };
}
