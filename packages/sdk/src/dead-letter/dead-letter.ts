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

/**
 * What a dead letter means for its saga at the participant that wrote it (header `troupe_dlq_saga_state`):
 * - `failed`: the saga fails and compensates (its failure or compensation failure went out with the
 *   dead letter, or a compensation of it gave up); replays of its forward events are refused.
 * - `dead`: the saga is given up on here (a handler gave up without a failure event); its later
 *   forward events are dead-lettered behind it, a replay is handled.
 * - `unchanged`: only this record was dead-lettered (refused at the boundary, undecodable, or behind
 *   a saga already given up on).
 * The participant remembers `failed` and `dead` sagas only once the dead letter is committed.
 */
export type DeadLetterSagaState = 'failed' | 'dead' | 'unchanged';

/** A dead-letter record: the original key, value and headers plus why and where it came from. */
export function deadLetterRecord(args: {
  readonly message: InboundMessage;
  readonly topic: string;
  readonly reason: DeadLetterReason;
  readonly error: string;
  readonly attempts: number;
  readonly participant: string;
  /** The participant's consumer group: a replay goes to it alone. */
  readonly group?: string;
  /** The failure event type emitted along with the dead letter, if any. */
  readonly failure?: string;
  /** What the dead letter means for its saga here (see {@link DeadLetterSagaState}). @default 'unchanged' */
  readonly sagaState?: DeadLetterSagaState;
}): OutboundRecord {
  const { message } = args;
  const headers = originalHeaders(message);
  headers[DLQ_HEADER.reason] = args.reason;
  // Headers are not meant for stack traces; keep the message readable and bounded.
  headers[DLQ_HEADER.error] = args.error.slice(0, 2000);
  headers[DLQ_HEADER.attempts] = String(args.attempts);
  headers[DLQ_HEADER.topic] = message.topic;
  headers[DLQ_HEADER.partition] = String(message.partition);
  headers[DLQ_HEADER.offset] = message.offset;
  headers[DLQ_HEADER.participant] = args.participant;
  headers[DLQ_HEADER.time] = new Date().toISOString();
  if (args.group !== undefined) headers[DLQ_HEADER.group] = args.group;
  if (args.failure !== undefined) headers[DLQ_HEADER.failure] = args.failure;
  headers[DLQ_HEADER.sagaState] = args.sagaState ?? 'unchanged';
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
  /** Consumer group that gave up (older dead letters name only the participant, the default group). */
  readonly group: string;
  /** Failure event type emitted with the dead letter: the saga failed and compensates. */
  readonly failure: string | undefined;
  /** What it meant for the saga; undefined for dead letters written before the header existed. */
  readonly sagaState: DeadLetterSagaState | undefined;
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
    group: headerString(headers, DLQ_HEADER.group) ?? headerString(headers, DLQ_HEADER.participant) ?? '',
    failure: headerString(headers, DLQ_HEADER.failure),
    sagaState: sagaStateOf(headerString(headers, DLQ_HEADER.sagaState)),
  };
}

function sagaStateOf(value: string | undefined): DeadLetterSagaState | undefined {
  return value === 'failed' || value === 'dead' || value === 'unchanged' ? value : undefined;
}

/**
 * The original event's headers of a (dead-letter or replayed) record: without the dead-letter and
 * replay headers, so each copy says only what happened to it.
 */
export function originalHeaders(message: InboundMessage): Record<string, string | Buffer> {
  const headers: Record<string, string | Buffer> = {};
  for (const [k, v] of Object.entries(message.headers)) {
    const first = Array.isArray(v) ? v[0] : v;
    if (first !== undefined && !k.startsWith('troupe_dlq_') && !k.startsWith('troupe_replay')) headers[k] = first;
  }
  return headers;
}
