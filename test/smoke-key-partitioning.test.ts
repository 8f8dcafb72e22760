import { afterAll, describe, expect, it } from 'vitest';
import { Partitioners, type Consumer, type Producer } from 'kafkajs';
import { createTopics, testKafka, uniqueGroup, uniqueTopic, waitFor } from '@troupe/testing';

describe('smoke: key partitioning on a real broker', () => {
  const kafka = testKafka();
  const clients: (Producer | Consumer)[] = [];
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.disconnect()));
  });

  it('delivers every message with the same key from the same partition', async () => {
    const topic = uniqueTopic('smoke-keys');
    await createTopics([{ topic, partitions: 6 }]);
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    clients.push(producer);
    await producer.connect();
    const keys = Array.from({ length: 20 }, (_, i) => `saga-${i}`);
    const rounds = 5;
    for (let round = 0; round < rounds; round += 1) {
      await producer.send({ topic, messages: keys.map((key) => ({ key, value: `${key}#${round}` })) });
    }

    const partitionsByKey = new Map<string, Set<number>>();
    let received = 0;
    const consumer = kafka.consumer({ groupId: uniqueGroup('smoke-keys'), maxWaitTimeInMs: 250 });
    clients.push(consumer);
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: ({ partition, message }) => {
        const key = message.key?.toString() ?? '';
        const seen = partitionsByKey.get(key) ?? new Set<number>();
        seen.add(partition);
        partitionsByKey.set(key, seen);
        received += 1;
        return Promise.resolve();
      },
    });
    await waitFor(() => received >= keys.length * rounds, { description: `${keys.length * rounds} messages` });

    expect(received).toBe(keys.length * rounds);
    expect([...partitionsByKey.keys()].sort()).toEqual([...keys].sort());
    for (const [key, partitions] of partitionsByKey) {
      expect({ key, partitions: partitions.size }).toEqual({ key, partitions: 1 });
    }
    // The keys really are spread: one partition for everything would prove nothing.
    const used = new Set([...partitionsByKey.values()].flatMap((s) => [...s]));
    expect(used.size).toBeGreaterThan(1);
  });
});
