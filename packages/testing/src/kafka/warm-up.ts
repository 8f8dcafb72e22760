import { randomBytes } from 'node:crypto';
import { Kafka, Partitioners, logLevel, type Consumer } from 'kafkajs';
import type { KafkaClientSecurity } from './security.js';

/**
 * Right after start the transaction and group coordinators are still creating and loading
 * `__transaction_state` and `__consumer_offsets`; the first transactional producer and the first
 * group then see COORDINATOR_LOAD_IN_PROGRESS / CONCURRENT_TRANSACTIONS and kafkajs logs errors
 * while it retries. Doing one transaction and one group commit here means tests start on a broker
 * whose coordinators are ready.
 */
export async function warmUp(brokers: readonly string[], replicationFactor: number, security?: KafkaClientSecurity): Promise<void> {
  const suffix = randomBytes(4).toString('hex');
  const topic = `troupe-warmup-${suffix}`;
  const kafka = new Kafka({ clientId: 'troupe-launcher-warmup', brokers: [...brokers], logLevel: logLevel.NOTHING, ...security });
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor }], waitForLeaders: true });
    // The two coordinators load independently: warm them concurrently.
    const groupId = `troupe-warmup-${suffix}`;
    const consumer = kafka.consumer({ groupId, readUncommitted: false, maxWaitTimeInMs: 100 });
    const consumed = consumeAndCommit(consumer, topic);
    try {
      await commitTransaction(kafka, topic, `troupe-warmup-${suffix}`);
    } catch (error) {
      // The consumer would wait forever for a message that never comes.
      consumed.catch(() => undefined);
      await consumer.disconnect().catch(() => undefined);
      throw error;
    }
    await consumed;
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  } finally {
    await admin.disconnect();
  }
}

async function commitTransaction(kafka: Kafka, topic: string, transactionalId: string): Promise<void> {
  const producer = kafka.producer({
    transactionalId,
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  try {
    const tx = await producer.transaction();
    await tx.send({ topic, messages: [{ key: 'warmup', value: 'warmup' }] });
    await tx.commit();
  } finally {
    await producer.disconnect();
  }
}

/** Joins a read_committed group, waits for the committed warm-up message and commits its offset. */
async function consumeAndCommit(consumer: Consumer, topic: string): Promise<void> {
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      consumer.run({ eachMessage: () => Promise.resolve(resolve()) }).catch(reject);
    });
    await consumer.commitOffsets([{ topic, partition: 0, offset: '1' }]);
  } finally {
    await consumer.disconnect();
  }
}
