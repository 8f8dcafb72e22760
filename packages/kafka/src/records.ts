import type { KafkaHeaders } from '@troupe/core';
import type { KafkaMessage } from 'kafkajs';

/** A record as consumed, with its coordinates. */
export interface KafkaRecord {
  readonly topic: string;
  readonly partition: number;
  /** Kafka offsets are 64-bit; kept as decimal strings like kafkajs does. */
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: KafkaHeaders;
  /** Append time, ms since the epoch, as a decimal string. */
  readonly timestamp: string;
}

/** The one conversion of a kafkajs message into a {@link KafkaRecord}. */
export function toKafkaRecord(topic: string, partition: number, m: KafkaMessage): KafkaRecord {
  return {
    topic,
    partition,
    offset: m.offset,
    key: m.key ?? null,
    value: m.value ?? null,
    headers: m.headers ?? {},
    timestamp: m.timestamp,
  };
}

/** The offset after `offset` (what a group commits once `offset` is done). */
export const nextOffset = (offset: string): string => String(BigInt(offset) + 1n);
