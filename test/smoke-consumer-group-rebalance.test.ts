import { afterAll, describe, expect, it } from 'vitest';
import { Partitioners, type Consumer, type Producer } from 'kafkajs';
import { createTopics, testKafka, uniqueGroup, uniqueTopic, waitFor } from '@troupe/testing';

describe('smoke: consumer group rebalance on a real broker', () => {
  const kafka = testKafka();
  const clients: (Producer | Consumer)[] = [];
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.disconnect()));
  });

  it('delivers every message to the group when a second consumer joins mid-stream', async () => {
    const topic = uniqueTopic('smoke-group');
    const groupId = uniqueGroup('smoke-group');
    await createTopics([{ topic, partitions: 4 }]);
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    clients.push(producer);
    await producer.connect();

    const delivered = new Map<string, number>();
    const assignments = new Map<string, number>();
    async function join(name: string): Promise<Consumer> {
      const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 250 });
      clients.push(consumer);
      consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
        assignments.set(name, (payload.memberAssignment[topic] ?? []).length);
      });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        eachMessage: ({ message }) => {
          const id = message.value?.toString() ?? '';
          delivered.set(id, (delivered.get(id) ?? 0) + 1);
          return Promise.resolve();
        },
      });
      return consumer;
    }
    const batch = (from: number, count: number): string[] => Array.from({ length: count }, (_, i) => `msg-${from + i}`);
    const send = (ids: string[]) => producer.send({ topic, messages: ids.map((id) => ({ key: `key-${id}`, value: id })) });

    await join('first');
    const first = batch(0, 100);
    await send(first);
    await waitFor(() => first.every((id) => delivered.has(id)), { description: 'the first batch at the first consumer' });
    expect(assignments.get('first')).toBe(4);

    await join('second');
    await waitFor(() => assignments.get('second') !== undefined && assignments.get('first') !== 4, {
      description: 'the rebalance that gives the second consumer partitions',
    });
    const second = batch(100, 100);
    await send(second);
    const all = [...first, ...second];
    await waitFor(() => all.every((id) => delivered.has(id)), { description: 'every message at the group' });

    expect(all.filter((id) => !delivered.has(id))).toEqual([]);
    expect((assignments.get('first') ?? 0) + (assignments.get('second') ?? 0)).toBe(4);
    expect(assignments.get('second')).toBeGreaterThan(0);
  });
});
