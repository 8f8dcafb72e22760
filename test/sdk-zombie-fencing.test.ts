// Exactly-once across a change of owner: the new owner of a partition fences the previous one
// (a "zombie", e.g. paused by GC) before it handles anything, so the zombie's late commit fails
// and every input yields its output exactly once.
import { KafkaTransport } from '@troupe/sdk';
import { createTopics, kafkaBrokers, testKafka, uniqueName, waitFor } from '@troupe/testing';
import { Partitioners } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from './fixtures/sdk-kafka.js';

describe('KafkaTransport exactly-once', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const fn of cleanup.reverse()) await fn().catch(() => undefined);
  });

  it('fences the earlier owner of a partition before handling it: the zombie cannot commit, nothing is duplicated', async () => {
    const input = uniqueName('zombie-in');
    const output = uniqueName('zombie-out');
    const groupId = uniqueName('zombie-group');
    const prefix = uniqueName('zombie-tx');
    await createTopics([
      { topic: input, partitions: 1 },
      { topic: output, partitions: 1 },
    ]);
    const kafka = testKafka();
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    await producer.send({ topic: input, messages: Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: `m${i}` })) });
    await producer.disconnect();

    // The zombie: the previous owner's producer (same transactional id), with a transaction that
    // handled all ten inputs and is about to commit.
    const zombie = kafka.producer({ transactionalId: `${prefix}-0`, idempotent: true, maxInFlightRequests: 1 });
    await zombie.connect();
    cleanup.push(() => zombie.disconnect());
    const tx = await zombie.transaction();
    await tx.send({ topic: output, messages: Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: `zombie-${i}` })) });
    await tx.sendOffsets({ consumerGroupId: groupId, topics: [{ topic: input, partitions: [{ partition: 0, offset: '10' }] }] });

    // The new owner starts from the committed offset (none yet: the beginning) and blocks in its
    // first handler call until the zombie has tried to commit.
    const transport = await KafkaTransport.create({ brokers: kafkaBrokers(), logger: silentLogger, redeliveryDelayMs: 50 });
    cleanup.push(() => transport.close());
    let entered = false;
    let release: () => void = () => undefined;
    const released = new Promise<void>((r) => (release = r));
    let handled = 0;
    const consumer = await transport.consume({
      groupId,
      topics: [input],
      fromBeginning: true,
      delivery: 'exactly-once',
      transactionalIdPrefix: prefix,
      maxBatchSize: 100,
      concurrency: 1,
      handle: async (batch) => {
        entered = true;
        await released;
        handled += batch.messages.length;
        return {
          outputs: batch.messages.map((m) => ({
            topic: output,
            key: m.key,
            value: Buffer.from(`owner-${m.value?.toString() ?? ''}`),
            headers: {},
          })),
          processed: batch.messages.length,
        };
      },
    });
    // A failed assertion must not leave the handler blocked: release it before stopping.
    cleanup.push(async () => {
      release();
      await consumer.stop();
    });
    await waitFor(() => entered, { timeoutMs: 60_000 });

    await expect(tx.commit()).rejects.toThrow();
    release();
    await waitFor(() => handled >= 10, { timeoutMs: 60_000 });

    // What a read_committed reader sees on the output topic: each input once, from the new owner.
    const reader = kafka.consumer({ groupId: uniqueName('zombie-reader'), readUncommitted: false });
    await reader.connect();
    cleanup.push(() => reader.disconnect());
    await reader.subscribe({ topic: output, fromBeginning: true });
    const seen: string[] = [];
    await reader.run({ eachMessage: ({ message }) => Promise.resolve(void seen.push(message.value?.toString() ?? '')) });
    await waitFor(() => seen.length >= 10, { timeoutMs: 60_000 });
    await new Promise((r) => setTimeout(r, 1000)); // anything extra would have arrived by now
    expect(seen.sort()).toEqual(Array.from({ length: 10 }, (_, i) => `owner-m${i}`).sort());
  });
});
