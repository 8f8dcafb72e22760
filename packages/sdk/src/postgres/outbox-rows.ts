import { deadLetterTopicOf, DLQ_HEADER, HEADER } from '@troupe/core';
import type { OutboundRecord } from '../transport/transport.js';
import { partitionForKey } from '../transport/murmur2.js';
import { OUTBOX_SHARDS } from './schema-names.js';

/** Header values as stored: strings as they are, binary ones wrapped so they come back as Buffers. */
type StoredHeader = string | { readonly base64: string };

/** An outbox row as the relay reads it. */
export interface OutboxRow {
  readonly id: string;
  readonly topic: string;
  readonly key: string | null;
  readonly value: Buffer | null;
  readonly headers: Readonly<Record<string, StoredHeader>>;
  readonly created_at: Date;
}

const text = (v: string | Buffer | undefined): string | undefined => (v === undefined ? undefined : v.toString());

/** The shard of a saga: where all its events wait, so one relay at a time publishes them in order. */
export function shardOf(sagaId: string): number {
  return partitionForKey(sagaId, OUTBOX_SHARDS);
}

/** Column values of one record (the saga id, `ce_id` and `ce_type` come from its CloudEvents headers). */
export function rowValues(record: OutboundRecord): unknown[] {
  const sagaId = text(record.headers[HEADER.sagaId]) ?? (record.key === null ? '' : record.key.toString());
  const headers: Record<string, StoredHeader> = {};
  for (const [k, v] of Object.entries(record.headers)) headers[k] = typeof v === 'string' ? v : { base64: v.toString('base64') };
  return [
    shardOf(sagaId),
    sagaId,
    text(record.headers[HEADER.id]) ?? '',
    text(record.headers[HEADER.type]) ?? '',
    record.topic,
    record.key === null ? null : record.key.toString(),
    record.value,
    JSON.stringify(headers),
  ];
}

/** The record a row stands for, as the relay appends it. */
export function recordOf(row: OutboxRow): OutboundRecord {
  const headers: Record<string, string | Buffer> = {};
  for (const [k, v] of Object.entries(row.headers)) headers[k] = typeof v === 'string' ? v : Buffer.from(v.base64, 'base64');
  return { topic: row.topic, key: row.key, value: row.value, headers };
}

export const ROW_COLUMNS = 'shard, saga_id, event_id, event_type, topic, key, value, headers';

/** `troupe_dlq_participant` of the dead letters a relay writes: no participant's group, so none replays or rebuilds from them. */
export const RELAY_DEAD_LETTERER = 'troupe-outbox-relay';

/**
 * The dead letter of a row the broker refused for good, for the dead-letter topic of the row's
 * topic: the row's key and headers (so the tracker files it under its saga), the broker's reason as
 * `OUTPUT_REFUSED`, and `troupe_dlq_offset` = `outbox:<row id>` (it never had a Kafka offset).
 * `withValue: false` leaves the value out (when the value itself is what the broker refused).
 */
export function refusedRowDeadLetter(row: OutboxRow, reason: string, withValue: boolean): OutboundRecord {
  const record = recordOf(row);
  return {
    topic: deadLetterTopicOf(row.topic),
    key: record.key,
    value: withValue ? record.value : null,
    headers: {
      ...record.headers,
      [DLQ_HEADER.reason]: 'OUTPUT_REFUSED',
      [DLQ_HEADER.error]: reason.slice(0, 2000),
      [DLQ_HEADER.attempts]: '1',
      [DLQ_HEADER.topic]: row.topic,
      [DLQ_HEADER.partition]: '-1',
      [DLQ_HEADER.offset]: `outbox:${row.id}`,
      [DLQ_HEADER.participant]: RELAY_DEAD_LETTERER,
      [DLQ_HEADER.time]: new Date().toISOString(),
    },
  };
}
