import { headerString } from '@troupe/core';
import type { InboundMessage, OutboundRecord } from '../transport/transport.js';

/**
 * Headers of a timer record. A timer is a record on the participant's timer topic
 * (`<groupId>.timers`, compacted, co-partitioned with the saga topics): key `<sagaId>/<name>`,
 * partition = the saga's partition number, value = what to emit (or null: the timer is gone).
 */
export const TIMER_HEADER = {
  /** When it falls due, ms since the epoch (transport clock). */
  due: 'troupe_timer_due',
  /** What firing does: see {@link TimerKind}. */
  kind: 'troupe_timer_kind',
  sagaId: 'troupe_timer_saga',
  /** `event` timers: the topic the event goes to when it fires. */
  topic: 'troupe_timer_topic',
  /** Saga clock timers: the saga type and the step awaited when it was written. */
  sagaType: 'troupe_timer_sagatype',
  step: 'troupe_timer_step',
} as const;

/**
 * - `event`: a scheduled event (`ctx.schedule`): the value and the event's own headers are emitted.
 * - `deadline`: the saga's deadline (and, while the saga runs, its running mark) at its initiator.
 * - `within`: the awaited step's limit at the saga's initiator.
 * - `ended`: the initiator timed out or aborted the saga; late answers are not applied until it fires.
 * - `branch`: state of a parallel group at one participant (a join's arrived branches, a branch's
 *   compensation log); firing only removes it once it is surely stale (participant/branch-state.ts).
 */
export type TimerKind = 'event' | 'deadline' | 'within' | 'ended' | 'branch';

const KINDS: ReadonlySet<string> = new Set<TimerKind>(['event', 'deadline', 'within', 'ended', 'branch']);

/** A timer as the book holds it. */
export interface Timer {
  readonly key: string;
  readonly sagaId: string;
  readonly kind: TimerKind;
  /** ms since the epoch; Infinity = never falls due (a running mark without a deadline). */
  readonly dueAt: number;
  readonly value: Buffer | null;
  /** Every header of the record, the timer's own included. */
  readonly headers: Readonly<Record<string, string | Buffer>>;
}

/** The record key of timer `name` of saga `sagaId`. */
export const timerKey = (sagaId: string, name: string): string => `${sagaId}/${name}`;

/** A timer record: the timer written (or, with `value: null` and no kind, its tombstone). */
export function timerRecord(args: {
  readonly topic: string;
  readonly partition: number;
  readonly key: string;
  readonly sagaId: string;
  readonly kind: TimerKind;
  readonly dueAt: number;
  readonly value: Buffer | null;
  readonly headers?: Readonly<Record<string, string | Buffer>>;
}): OutboundRecord {
  return {
    topic: args.topic,
    partition: args.partition,
    key: args.key,
    value: args.value ?? Buffer.alloc(0),
    headers: {
      ...args.headers,
      [TIMER_HEADER.due]: Number.isFinite(args.dueAt) ? String(args.dueAt) : 'never',
      [TIMER_HEADER.kind]: args.kind,
      [TIMER_HEADER.sagaId]: args.sagaId,
    },
  };
}

/** The tombstone that removes a timer (fired or cancelled); compaction then drops both. */
export function timerTombstone(topic: string, partition: number, key: string): OutboundRecord {
  return { topic, partition, key, value: null, headers: {} };
}

/** The timer a record holds, `null` for a tombstone, undefined for a record that is no timer. */
export function readTimer(record: Pick<InboundMessage, 'key' | 'value' | 'headers'> | OutboundRecord): Timer | null | undefined {
  const key = record.key === null ? undefined : record.key.toString();
  if (key === undefined) return undefined;
  if (record.value === null) return null;
  const headers = record.headers as Parameters<typeof headerString>[0];
  const kind = headerString(headers, TIMER_HEADER.kind);
  const due = headerString(headers, TIMER_HEADER.due);
  const sagaId = headerString(headers, TIMER_HEADER.sagaId);
  if (kind === undefined || !KINDS.has(kind) || due === undefined || sagaId === undefined) return undefined;
  const flat: Record<string, string | Buffer> = {};
  for (const [k, v] of Object.entries(record.headers)) {
    const first = Array.isArray(v) ? (v as unknown[])[0] : v;
    if (typeof first === 'string' || Buffer.isBuffer(first)) flat[k] = first;
  }
  return {
    key,
    sagaId,
    kind: kind as TimerKind,
    dueAt: due === 'never' ? Number.POSITIVE_INFINITY : Number(due),
    value: record.value,
    headers: flat,
  };
}
