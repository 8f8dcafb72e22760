import type { AbortHeaders, SagaRole } from '@troupe/core';

/** What the tracker learnt from a dead-letter topic about why an event could not be handled. */
export interface DeadLetterInfo {
  /** The dead-letter topic the copy was read from. */
  readonly topic: string;
  /** Error message, when a header carried one. */
  readonly reason?: string;
  /** Participant (or consumer group) that gave up, when a header named it. */
  readonly participant?: string;
  /** Every non-CloudEvents header of the dead-letter record, for the detail view. */
  readonly headers: Readonly<Record<string, string>>;
  /**
   * Present when the record is a replay note (`troupe-dlq replay`, ADR 0012), not a dead letter:
   * the dead letter `of` (partition/offset) was sent back to `group` by `by` at `at`.
   */
  readonly replay?: { readonly of: string; readonly group: string; readonly by: string; readonly at: string };
}

/**
 * One event as the tracker stores it: the CloudEvents envelope read from the headers, where it was
 * read, and — for failures — the reason. Events of a saga are a set keyed by {@link eventKey}.
 */
export interface TrackedEvent {
  readonly id: string;
  readonly type: string;
  readonly source: string;
  /** ISO-8601 `ce_time`. */
  readonly time: string;
  readonly sagaId: string;
  readonly sagaType: string;
  /** `ce_sagaversion`: the contract version the saga started with; absent = 1. */
  readonly sagaVersion?: number;
  readonly role: SagaRole;
  readonly step?: string;
  readonly causationId?: string;
  readonly traceparent?: string;
  readonly topic: string;
  readonly partition: number;
  /** Kafka offset as a decimal string (offsets exceed 2^53 in theory). */
  readonly offset: string;
  /** Why a step or compensation failed, from a header or the payload. */
  readonly reason?: string;
  /** Present when this record was read from a dead-letter topic. */
  readonly deadLetter?: DeadLetterInfo;
  /**
   * Present when the SDK emitted the event because time ran out or an operator aborted the saga
   * (the `troupe_abort_*` headers, docs/time.md): the cause, the step awaited, why and by whom.
   */
  readonly abort?: AbortHeaders;
  /** Business attributes the saga's contract takes from this event's payload (values as text). */
  readonly attributes?: Readonly<Record<string, string>>;
  /** The raw payload, base64, kept only for the detail view. */
  readonly payload?: string;
}

/**
 * The identity of an event in its saga's set. A dead-lettered copy carries the original `ce_id`,
 * yet it is a separate fact (somebody failed to handle the event), so it gets its own key per
 * dead-letter topic.
 */
export function eventKey(e: Pick<TrackedEvent, 'id' | 'deadLetter'>): string {
  if (e.deadLetter === undefined) return e.id;
  // Each replay of a dead letter is a fact of its own (who sent it back, when).
  const replay = e.deadLetter.replay;
  return replay === undefined ? `dlq:${e.deadLetter.topic}:${e.id}` : `replay:${e.deadLetter.topic}:${replay.of}:${replay.at}:${e.id}`;
}

/**
 * Orders two copies with the same key (a redelivery, a replay) by Kafka coordinate; the lower one
 * is kept. Any fixed rule would do: a fixed one makes every store and instance keep the same copy.
 */
export function compareCopies(a: TrackedEvent, b: TrackedEvent): number {
  if (a.topic !== b.topic) return a.topic < b.topic ? -1 : 1;
  if (a.partition !== b.partition) return a.partition - b.partition;
  const oa = BigInt(a.offset);
  const ob = BigInt(b.offset);
  return oa === ob ? 0 : oa < ob ? -1 : 1;
}
