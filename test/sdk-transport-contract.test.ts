// The transport contract suite (packages/sdk/src/transport/transport-contract.fixture.ts) on a real broker;
// the same suite runs on the memory transport as a unit test.
import { randomBytes } from 'node:crypto';
import { KafkaTransport, MARKER_HEADER, type InboundMessage } from '@troupe/sdk';
import { kafkaBrokers, uniqueGroup } from '@troupe/testing';
import { transportContract } from '../packages/sdk/src/transport/transport-contract.fixture.js';
import { silentLogger } from './fixtures/sdk-kafka.js';

/** Reads a topic at read_committed until `atLeast` records, then up to an end marker per partition (exact). */
async function readCommitted(transport: KafkaTransport, topic: string, atLeast: number): Promise<readonly InboundMessage[]> {
  const records: InboundMessage[] = [];
  const markers = new Set<string>();
  const consumer = transport.kafka.consumer({ groupId: uniqueGroup('tc-reader'), readUncommitted: false, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: ({ partition, message }) => {
      const marker = message.headers?.[MARKER_HEADER];
      if (marker !== undefined) markers.add(String(marker));
      else
        records.push({
          topic,
          partition,
          offset: message.offset,
          key: message.key,
          value: message.value,
          headers: message.headers ?? {},
          timestamp: message.timestamp,
        });
      return Promise.resolve();
    },
  });
  const until = async (done: () => boolean, what: string): Promise<void> => {
    const deadline = Date.now() + 60_000;
    while (!done()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} on ${topic}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  try {
    await until(() => records.length >= atLeast, `${atLeast} records`);
    const n = (await transport.partitionCounts([topic])).get(topic) ?? 1;
    const id = randomBytes(4).toString('hex');
    const expected = Array.from({ length: n }, (_, p) => `${id}-${p}`);
    await transport.send(expected.map((m, partition) => ({ topic, partition, key: null, value: null, headers: { [MARKER_HEADER]: m } })));
    await until(() => expected.every((m) => markers.has(m)), 'end markers');
    return records.sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)));
  } finally {
    await consumer.disconnect();
  }
}

transportContract('kafka', async () => {
  const transport = await KafkaTransport.create({ brokers: kafkaBrokers(), redeliveryDelayMs: 50, logger: silentLogger });
  return { transport, readCommitted: (topic, atLeast) => readCommitted(transport, topic, atLeast), close: () => transport.close() };
});
