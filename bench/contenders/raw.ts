// Hand-written kafkajs loops: the baseline a participant is measured against.
//   raw-alo  eachBatch, idempotent producer, offsets committed after each chunk's send
//   raw-tx   one transactional producer per input partition, one transaction per chunk
//            (send + sendOffsets + commit), with kafkajs's default retry (300 ms initial)
//            or a tuned 100 ms initial retry: right after a commit the coordinator answers
//            CONCURRENT_TRANSACTIONS and the next transaction waits for that retry.
import { Partitioners, type Kafka, type Producer } from 'kafkajs';
import { stepTransform, type StepConfig } from '../lib/step.js';

export async function rawAtLeastOnce(kafka: Kafka, cfg: StepConfig): Promise<() => Promise<void>> {
  const transform = await stepTransform(cfg);
  const producer = kafka.producer({ idempotent: true, createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const consumer = kafka.consumer({ groupId: cfg.groupId });
  await consumer.connect();
  await consumer.subscribe({ topic: cfg.inTopic, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    partitionsConsumedConcurrently: 4,
    eachBatch: async (payload) => {
      const { batch } = payload;
      for (let i = 0; i < batch.messages.length; i += cfg.batch) {
        const chunk = batch.messages.slice(i, i + cfg.batch);
        const out = await Promise.all(chunk.map(async (m) => ({ key: m.key, value: await transform(m.value), headers: m.headers ?? {} })));
        await producer.send({ topic: cfg.outTopic, messages: out });
        const last = chunk[chunk.length - 1];
        if (last) {
          await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: String(BigInt(last.offset) + 1n) }]);
          payload.resolveOffset(last.offset);
        }
        await payload.heartbeat();
      }
    },
  });
  return async () => {
    await consumer.disconnect();
    await producer.disconnect();
  };
}

export async function rawTransactional(kafka: Kafka, cfg: StepConfig & { readonly retryMs?: number }): Promise<() => Promise<void>> {
  const transform = await stepTransform(cfg);
  const producers = new Map<number, Producer>();
  const producerFor = async (partition: number): Promise<Producer> => {
    let p = producers.get(partition);
    if (p === undefined) {
      p = kafka.producer({
        transactionalId: `${cfg.groupId}-${cfg.inTopic}-${partition}`,
        idempotent: true,
        maxInFlightRequests: 1,
        createPartitioner: Partitioners.DefaultPartitioner,
        ...(cfg.retryMs !== undefined ? { retry: { initialRetryTime: cfg.retryMs } } : {}),
      });
      producers.set(partition, p);
      await p.connect();
    }
    return p;
  };
  const consumer = kafka.consumer({ groupId: cfg.groupId, readUncommitted: false });
  await consumer.connect();
  await consumer.subscribe({ topic: cfg.inTopic, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    partitionsConsumedConcurrently: 4,
    eachBatch: async (payload) => {
      const { batch } = payload;
      const producer = await producerFor(batch.partition);
      for (let i = 0; i < batch.messages.length; i += cfg.batch) {
        const chunk = batch.messages.slice(i, i + cfg.batch);
        const out = await Promise.all(chunk.map(async (m) => ({ key: m.key, value: await transform(m.value), headers: m.headers ?? {} })));
        const last = chunk[chunk.length - 1];
        if (last === undefined) continue;
        const tx = await producer.transaction();
        try {
          await tx.send({ topic: cfg.outTopic, messages: out });
          await tx.sendOffsets({
            consumerGroupId: cfg.groupId,
            topics: [{ topic: batch.topic, partitions: [{ partition: batch.partition, offset: String(BigInt(last.offset) + 1n) }] }],
          });
          await tx.commit();
        } catch (err) {
          await tx.abort();
          throw err;
        }
        payload.resolveOffset(last.offset);
        await payload.heartbeat();
      }
    },
  });
  return async () => {
    await consumer.disconnect();
    for (const p of producers.values()) await p.disconnect();
  };
}
