import { afterAll, describe, expect, it } from 'vitest';
import { Partitioners, type Consumer, type Producer } from 'kafkajs';
import { createTopics, testKafka, uniqueGroup, uniqueName, uniqueTopic, waitFor } from '@troupe/testing';

describe('smoke: transactions on a real broker', () => {
  const kafka = testKafka();
  const clients: (Producer | Consumer)[] = [];
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.disconnect()));
  });

  async function collect(topic: string, readUncommitted: boolean, until: (values: string[]) => boolean): Promise<string[]> {
    const values: string[] = [];
    const consumer = kafka.consumer({ groupId: uniqueGroup('smoke-tx'), readUncommitted, maxWaitTimeInMs: 250 });
    clients.push(consumer);
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: ({ message }) => {
        values.push(message.value?.toString() ?? '');
        return Promise.resolve();
      },
    });
    await waitFor(() => until(values), { description: `messages on ${topic} (readUncommitted=${String(readUncommitted)})` });
    await consumer.stop();
    return values;
  }

  it('hides aborted messages from read_committed consumers and shows committed ones', async () => {
    const topic = uniqueTopic('smoke-tx');
    await createTopics([{ topic, partitions: 1 }]);
    const producer = kafka.producer({
      transactionalId: uniqueName('smoke-tx'),
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    clients.push(producer);
    await producer.connect();

    const aborted = await producer.transaction();
    await aborted.send({
      topic,
      messages: [
        { key: 'k', value: 'aborted-1' },
        { key: 'k', value: 'aborted-2' },
      ],
    });
    await aborted.abort();
    const committed = await producer.transaction();
    await committed.send({
      topic,
      messages: [
        { key: 'k', value: 'committed-1' },
        { key: 'k', value: 'committed-2' },
      ],
    });
    await committed.commit();

    // One partition, read in order: once the committed messages arrived, the aborted ones (earlier
    // in the log) have been passed over, so their absence is final.
    const readCommitted = await collect(topic, false, (v) => v.includes('committed-2'));
    expect(readCommitted).toEqual(['committed-1', 'committed-2']);

    // The aborted records are really in the log: a read_uncommitted consumer sees them.
    const readUncommitted = await collect(topic, true, (v) => v.includes('committed-2'));
    expect(readUncommitted).toEqual(['aborted-1', 'aborted-2', 'committed-1', 'committed-2']);
  });
});
