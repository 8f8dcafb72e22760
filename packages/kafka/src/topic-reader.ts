import { randomBytes } from 'node:crypto';
import { READER_GROUP_PREFIX } from '@troupe/core';
import type { Kafka } from 'kafkajs';
import { toKafkaRecord, type KafkaRecord } from './records.js';

/**
 * Reads a whole topic as it is now (read_committed), from the start to the end offsets taken when
 * called; for tools such as `troupe-dlq`. Uses a throw-away consumer group that commits nothing.
 */
export async function readTopicToEnd(
  kafka: Kafka,
  topic: string,
  only: {
    readonly partition?: number;
    readonly fromOffset?: string;
    /** Only the last `last` offsets of each partition (a tail; transaction markers take offsets too). */
    readonly last?: number;
    readonly timeoutMs?: number;
  } = {},
): Promise<KafkaRecord[]> {
  const timeoutMs = only.timeoutMs ?? 30_000;
  let from = BigInt(only.fromOffset ?? '0');
  const admin = kafka.admin();
  await admin.connect();
  let ends: { partition: number; high: string; low: string }[];
  try {
    ends = await admin.fetchTopicOffsets(topic);
  } finally {
    await admin.disconnect();
  }
  // A partition is done once a batch reaching its end offset was fetched (control records included).
  const wanted = ends.filter((e) => only.partition === undefined || e.partition === only.partition);
  if (only.last !== undefined && wanted.length === 1 && wanted[0]) {
    const tail = BigInt(wanted[0].high) - BigInt(only.last);
    if (tail > from) from = tail;
  }
  const pending = new Set(wanted.filter((e) => BigInt(e.high) > (BigInt(e.low) > from ? BigInt(e.low) : from)).map((e) => e.partition));
  const records: KafkaRecord[] = [];
  if (pending.size === 0) return records;
  const consumer = kafka.consumer({
    groupId: `${READER_GROUP_PREFIX}${randomBytes(6).toString('hex')}`,
    readUncommitted: false,
    maxWaitTimeInMs: 200,
  });
  const high = new Map(ends.map((e) => [e.partition, BigInt(e.high)]));
  let markDone: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (markDone = resolve));
  consumer.on(consumer.events.END_BATCH_PROCESS, (e) => {
    const { partition, lastOffset } = e.payload;
    if (BigInt(lastOffset) + 1n >= (high.get(partition) ?? 0n)) pending.delete(partition);
    if (pending.size === 0) markDone();
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    consumer.on(consumer.events.GROUP_JOIN, () => {
      for (const p of pending) if (from > 0n) consumer.seek({ topic, partition: p, offset: String(from) });
    });
    await consumer.run({
      autoCommit: false,
      eachMessage: ({ partition, message }) => {
        const offset = BigInt(message.offset);
        if (pending.has(partition) && offset >= from && offset < (high.get(partition) ?? 0n)) {
          records.push(toKafkaRecord(topic, partition, message));
        }
        return Promise.resolve();
      },
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      done,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`reading ${topic} did not reach its end within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
  } finally {
    await consumer.disconnect();
  }
  return records.sort((a, b) => a.partition - b.partition || (BigInt(a.offset) < BigInt(b.offset) ? -1 : 1));
}
