/**
 * The behaviour every Transport must show, as one suite run against each implementation: on the
 * memory transport in `memory-transport.test.ts`, on a real broker in `test/sdk-transport-contract.test.ts`.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { partitionForKey } from './murmur2.js';
import type { ConsumerHandle, ConsumerSpec, InboundMessage, PartitionBatch, Transport } from './transport.js';

export interface TransportUnderTest {
  readonly transport: Transport;
  /** Something that reads a topic the way a downstream read_committed consumer would. */
  readonly readCommitted: (topic: string, atLeast: number) => Promise<readonly InboundMessage[]>;
  readonly close: () => Promise<void>;
}

const unique = (p: string): string => `${p}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;

async function eventually<T>(probe: () => T | undefined, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const value = (m: InboundMessage): string => m.value?.toString() ?? '';

export function transportContract(name: string, open: () => Promise<TransportUnderTest>): void {
  describe(`Transport contract: ${name}`, () => {
    const opened: TransportUnderTest[] = [];
    const consumers: ConsumerHandle[] = [];
    const setup = async (): Promise<TransportUnderTest> => {
      const t = await open();
      opened.push(t);
      return t;
    };
    const consume = async (
      t: Transport,
      spec: Partial<ConsumerSpec> & Pick<ConsumerSpec, 'groupId' | 'topics' | 'handle'>,
    ): Promise<ConsumerHandle> => {
      const c = await t.consume({
        fromBeginning: true,
        delivery: 'exactly-once',
        transactionalIdPrefix: spec.groupId,
        maxBatchSize: 10,
        concurrency: 4,
        ...spec,
      });
      consumers.push(c);
      return c;
    };
    afterAll(async () => {
      for (const c of consumers) await c.stop();
      for (const t of opened) await t.close();
    });

    it('creates topics and reports partition counts; unknown topics are absent', async () => {
      const { transport } = await setup();
      const a = unique('tc-a');
      const counts = await transport.ensureTopics([{ topic: a, partitions: 4, replicationFactor: 1 }]);
      expect(counts.get(a)).toBe(4);
      const again = await transport.ensureTopics([{ topic: a, partitions: 2, replicationFactor: 1 }]);
      expect(again.get(a)).toBe(4);
      expect((await transport.partitionCounts([a, unique('tc-missing')])).size).toBe(1);
    });

    it('puts a key on the partition Kafka’s murmur2 partitioner picks, on every topic', async () => {
      const { transport, readCommitted } = await setup();
      const [a, b] = [unique('tc-key-a'), unique('tc-key-b')];
      await transport.ensureTopics([a, b].map((topic) => ({ topic, partitions: 5, replicationFactor: 1 })));
      const keys = Array.from({ length: 20 }, (_, i) => `saga-${i}`);
      await transport.send(keys.flatMap((key) => [a, b].map((topic) => ({ topic, key, value: Buffer.from(key), headers: {} }))));
      for (const topic of [a, b]) {
        const msgs = await readCommitted(topic, keys.length);
        for (const m of msgs) expect(m.partition, m.key?.toString()).toBe(partitionForKey(m.key?.toString() ?? '', 5));
      }
    });

    it('splits partitions among group members and keeps per-partition order', async () => {
      const { transport } = await setup();
      const topic = unique('tc-group');
      const groupId = unique('tc-g');
      await transport.ensureTopics([{ topic, partitions: 4, replicationFactor: 1 }]);
      const seen = new Map<string, string[]>();
      const handle = (member: string) => (batch: PartitionBatch) => {
        for (const m of batch.messages) seen.set(value(m), [...(seen.get(value(m)) ?? []), `${member}/${batch.partition}`]);
        return Promise.resolve({ outputs: [], processed: batch.messages.length });
      };
      const order: Record<string, number[]> = {};
      const ordered = (member: string) => async (batch: PartitionBatch) => {
        for (const m of batch.messages) {
          const [key, n] = value(m).split(':');
          (order[key ?? ''] ??= []).push(Number(n));
        }
        return handle(member)(batch);
      };
      const c1 = await consume(transport, { groupId, topics: [topic], handle: ordered('m1') });
      const c2 = await consume(transport, { groupId, topics: [topic], handle: ordered('m2') });
      const records = Array.from({ length: 8 }, (_, k) =>
        Array.from({ length: 10 }, (__, n) => ({ topic, key: `k${k}`, value: Buffer.from(`k${k}:${n}`), headers: {} })),
      ).flat();
      await transport.send(records);
      await eventually(() => (seen.size === records.length ? true : undefined), 'all records handled');
      // Each record handled by one member (no duplicates), each key in order.
      expect([...seen.values()].every((v) => v.length === 1)).toBe(true);
      for (const nums of Object.values(order)) expect(nums).toEqual([...nums].sort((x, y) => x - y));
      await eventually(() => (c1.assignment().length + c2.assignment().length === 4 ? true : undefined), 'assignment of 4 partitions');
      expect(c1.assignment().length).toBeGreaterThan(0);
      expect(c2.assignment().length).toBeGreaterThan(0);
    });

    it('gives one member the same partition number of every subscribed topic (co-partitioned)', async () => {
      const { transport } = await setup();
      const topics = [unique('tc-co-a'), unique('tc-co-b')];
      const groupId = unique('tc-co');
      await transport.ensureTopics(topics.map((topic) => ({ topic, partitions: 4, replicationFactor: 1 })));
      const handle = (b: PartitionBatch) => Promise.resolve({ outputs: [], processed: b.messages.length });
      const members = [await consume(transport, { groupId, topics, handle }), await consume(transport, { groupId, topics, handle })];
      await eventually(
        () => (members.every((m) => m.assignment().length === 4) ? true : undefined),
        'two members with 4 topic-partitions each',
      );
      for (const m of members) {
        const numbers = (topic: string) =>
          m
            .assignment()
            .filter((a) => a.topic === topic)
            .map((a) => a.partition)
            .sort();
        expect(numbers(topics[0] ?? '')).toEqual(numbers(topics[1] ?? ''));
      }
    });

    it('hands a partition number’s records of co-partitioned topics over in the order they were produced', async () => {
      const { transport } = await setup();
      const topics = [unique('tc-ord-a'), unique('tc-ord-b'), unique('tc-ord-c')];
      await transport.ensureTopics(topics.map((topic) => ({ topic, partitions: 3, replicationFactor: 1 })));
      // One saga key, its events spread over the three topics in a scrambled topic order, produced
      // one after another (as a saga's steps are) before the consumer starts, as after a restart.
      const produced: string[] = [];
      for (let i = 0; i < 30; i++) {
        const topic = topics[(i * 7) % 3] ?? '';
        await transport.send([{ topic, key: 'saga-1', value: Buffer.from(`e${i}`), headers: {} }]);
        produced.push(`e${i}`);
        await new Promise((r) => setTimeout(r, 3)); // distinct timestamps
      }
      const seen: string[] = [];
      await consume(transport, {
        groupId: unique('tc-ord'),
        topics,
        maxBatchSize: 4,
        handle: (b) => {
          seen.push(...b.messages.map(value));
          return Promise.resolve({ outputs: [], processed: b.messages.length });
        },
      });
      await eventually(() => (seen.length >= produced.length ? true : undefined), 'all records handled');
      expect(seen).toEqual(produced);
    });

    it('redelivers a batch whose handler threw, and never appends its outputs', async () => {
      const { transport, readCommitted } = await setup();
      const [input, output] = [unique('tc-in'), unique('tc-out')];
      await transport.ensureTopics([input, output].map((topic) => ({ topic, partitions: 1, replicationFactor: 1 })));
      const deliveries: string[] = [];
      let failed = false;
      await consume(transport, {
        groupId: unique('tc-redeliver'),
        topics: [input],
        handle: (batch) => {
          deliveries.push(...batch.messages.map(value));
          const outputs = batch.messages.map((m) => ({ topic: output, key: m.key, value: m.value, headers: {} }));
          if (!failed && batch.messages.some((m) => value(m) === 'boom')) {
            failed = true;
            return Promise.reject(new Error('handler failed'));
          }
          return Promise.resolve({ outputs, processed: batch.messages.length });
        },
      });
      await transport.send(['a', 'boom', 'c'].map((v) => ({ topic: input, key: 'k', value: Buffer.from(v), headers: {} })));
      const out = await readCommitted(output, 3);
      expect(out.map(value)).toEqual(['a', 'boom', 'c']);
      expect(deliveries.filter((d) => d === 'boom')).toHaveLength(2);
    });

    it('commits only the processed prefix of a batch and delivers the rest again', async () => {
      const { transport, readCommitted } = await setup();
      const [input, output] = [unique('tc-pin'), unique('tc-pout')];
      await transport.ensureTopics([input, output].map((topic) => ({ topic, partitions: 1, replicationFactor: 1 })));
      const firstOfBatch: string[] = [];
      await consume(transport, {
        groupId: unique('tc-prefix'),
        topics: [input],
        handle: (batch) => {
          const first = batch.messages[0];
          if (first) firstOfBatch.push(value(first));
          // One message per transaction, whatever the batch size.
          return Promise.resolve({
            outputs: [{ topic: output, key: first?.key ?? null, value: first?.value ?? null, headers: {} }],
            processed: 1,
          });
        },
      });
      await transport.send(['1', '2', '3', '4'].map((v) => ({ topic: input, key: 'k', value: Buffer.from(v), headers: {} })));
      expect((await readCommitted(output, 4)).map(value)).toEqual(['1', '2', '3', '4']);
      expect(firstOfBatch.slice(0, 4)).toEqual(['1', '2', '3', '4']);
    });

    it('resumes a group from its committed offsets after a restart', async () => {
      const { transport } = await setup();
      const topic = unique('tc-resume');
      const groupId = unique('tc-resume-g');
      await transport.ensureTopics([{ topic, partitions: 2, replicationFactor: 1 }]);
      const first: string[] = [];
      const c = await consume(transport, {
        groupId,
        topics: [topic],
        handle: (b) => {
          first.push(...b.messages.map(value));
          return Promise.resolve({ outputs: [], processed: b.messages.length });
        },
      });
      await transport.send(['x1', 'x2', 'x3'].map((v) => ({ topic, key: v, value: Buffer.from(v), headers: {} })));
      await eventually(() => (first.length >= 3 ? true : undefined), 'first three');
      await c.stop();
      const second: string[] = [];
      await consume(transport, {
        groupId,
        topics: [topic],
        handle: (b) => {
          second.push(...b.messages.map(value));
          return Promise.resolve({ outputs: [], processed: b.messages.length });
        },
      });
      await transport.send([{ topic, key: 'x4', value: Buffer.from('x4'), headers: {} }]);
      await eventually(() => (second.includes('x4') ? true : undefined), 'x4 after restart');
      expect(second).toEqual(['x4']);
      expect(first.sort()).toEqual(['x1', 'x2', 'x3']);
    });
  });
}
