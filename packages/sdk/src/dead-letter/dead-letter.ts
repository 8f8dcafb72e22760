import { DLQ_HEADER, deadLetterTopicOf, headerString, type KafkaHeaders } from '@troupe/core';
import type { InboundMessage, OutboundRecord } from '../transport/transport.js';

/** Every reason an event is dead-lettered for; a value so that `troupe-dlq --reason` offers them. */
export const DEAD_LETTER_REASONS = [
  'MALFORMED_ENVELOPE',
  'UNDECODABLE_PAYLOAD',
  'UNKNOWN_SCHEMA_ID',
  'HANDLER_FAILED',
  'SAGA_DEAD_LETTERED',
  'MISSING_HEADER',
  'INVALID_KEY',
  'SAGA_ID_MISMATCH',
  'UNEXPECTED_TYPE',
  'OUTPUT_REFUSED',
] as const;

/** Why an event was dead-lettered; stable strings for alerts and the `troupe-dlq` CLI. */
export type DeadLetterReason = (typeof DEAD_LETTER_REASONS)[number];

// The header names are the wire contract with the tracker: they live with the envelope.
export { DLQ_HEADER, MARKER_HEADER } from '@troupe/core';

/** The default dead-letter topic of a source topic. */
export const defaultDeadLetterTopic = (topic: string): string => deadLetterTopicOf(topic);

/** A dead-letter record: the original key, value and headers plus why and where it came from. */
export function deadLetterRecord(args: {
  readonly message: InboundMessage;
  readonly topic: string;
  readonly reason: DeadLetterReason;
  readonly error: string;
  readonly attempts: number;
  readonly participant: string;
}): OutboundRecord {
  const { message } = args;
  const headers: Record<string, string | Buffer> = {};
  for (const [k, v] of Object.entries(message.headers)) {
    const first = Array.isArray(v) ? v[0] : v;
    if (first !== undefined && !k.startsWith('troupe_dlq_')) headers[k] = first;
  }
  headers[DLQ_HEADER.reason] = args.reason;
  // Headers are not meant for stack traces; keep the message readable and bounded.
  headers[DLQ_HEADER.error] = args.error.slice(0, 2000);
  headers[DLQ_HEADER.attempts] = String(args.attempts);
  headers[DLQ_HEADER.topic] = message.topic;
  headers[DLQ_HEADER.partition] = String(message.partition);
  headers[DLQ_HEADER.offset] = message.offset;
  headers[DLQ_HEADER.participant] = args.participant;
  headers[DLQ_HEADER.time] = new Date().toISOString();
  // Same partition number as the original: the tracker finds the saga's dead letters by key.
  return { topic: args.topic, key: message.key, value: message.value, headers, partition: message.partition };
}

/** What a dead-letter record says about itself. */
export interface DeadLetterInfo {
  readonly reason: string;
  readonly error: string;
  readonly attempts: number;
  readonly originalTopic: string;
  readonly originalPartition: number;
  readonly originalOffset: string;
  readonly participant: string;
  readonly time: string;
}

export function readDeadLetter(headers: KafkaHeaders): DeadLetterInfo | undefined {
  const reason = headerString(headers, DLQ_HEADER.reason);
  if (reason === undefined) return undefined;
  return {
    reason,
    error: headerString(headers, DLQ_HEADER.error) ?? '',
    attempts: Number(headerString(headers, DLQ_HEADER.attempts) ?? '0'),
    originalTopic: headerString(headers, DLQ_HEADER.topic) ?? '',
    originalPartition: Number(headerString(headers, DLQ_HEADER.partition) ?? '-1'),
    originalOffset: headerString(headers, DLQ_HEADER.offset) ?? '',
    participant: headerString(headers, DLQ_HEADER.participant) ?? '',
    time: headerString(headers, DLQ_HEADER.time) ?? '',
  };
}

/** The original record again, without the dead-letter headers, for replay onto its topic. */
export function replayRecord(message: InboundMessage): OutboundRecord | undefined {
  const info = readDeadLetter(message.headers);
  if (!info) return undefined;
  const headers: Record<string, string | Buffer> = { troupe_replayed_from: `${message.topic}/${message.partition}/${message.offset}` };
  for (const [k, v] of Object.entries(message.headers)) {
    const first = Array.isArray(v) ? v[0] : v;
    if (first !== undefined && !k.startsWith('troupe_dlq_')) headers[k] = first;
  }
  return { topic: info.originalTopic, key: message.key, value: message.value, headers };
}
