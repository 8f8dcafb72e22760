import { headerString, type KafkaHeaders } from '@troupe/core';
import type { EventType } from '@troupe/schema-registry';

/**
 * Headers of an event the SDK emitted because time ran out or an operator aborted the saga: on
 * the contract's `end.aborted` event (onTimeout: abort, operator aborts, late answers) or on the
 * awaited step's failure event (onTimeout: fail-step). The tracker shows them as who and why.
 */
export const ABORT_HEADER = {
  /** `deadline`, `within`, `operator` or `late` (see {@link AbortCause}). */
  cause: 'troupe_abort_cause',
  /** The step that was awaited (or, for `late`, the step whose late completion is undone). */
  step: 'troupe_abort_step',
  reason: 'troupe_abort_reason',
  /** Who aborted: the initiator's name, or the operator's (`troupe-saga abort --by`). */
  by: 'troupe_abort_by',
} as const;

/**
 * Why a saga was aborted (or a step failed) by the SDK:
 * - `deadline`: the contract's saga deadline passed;
 * - `within`: the awaited step's `within` passed;
 * - `operator`: `troupe-saga abort` (or `requestAbort`);
 * - `late`: a step completed after the saga had timed out; only that step compensates.
 */
export type AbortCause = 'deadline' | 'within' | 'operator' | 'late';

/** What a timeout event's payload is built from. */
export interface TimeoutInfo {
  readonly sagaId: string;
  readonly sagaType: string;
  readonly cause: AbortCause;
  /** The step that was awaited, if any (none once every step completed). */
  readonly step: string | undefined;
  /** A sentence for people, e.g. `step shipping did not answer within 1m`. */
  readonly reason: string;
  /** The initiator, or the operator who asked. */
  readonly by: string;
}

/** How the initiator builds one event type's payload when time runs out or an operator aborts. */
export interface TimeoutEvent<T = unknown> {
  readonly type: EventType<T>;
  readonly build: (info: TimeoutInfo) => T;
}

/**
 * Declares the payload of an event the initiator emits on a timeout or an operator's abort: the
 * contract's `end.aborted` event (onTimeout: abort, `troupe-saga abort`) or a step's failure
 * event (onTimeout: fail-step). Pass it in the participant's `timeouts` option.
 *
 * ```ts
 * timeoutEvent(OrderCancelled, ({ sagaId, step, reason }) => ({ orderId: sagaId, failedStep: step ?? 'deadline', reason }))
 * ```
 */
export function timeoutEvent<T>(type: EventType<T>, build: (info: TimeoutInfo) => T): TimeoutEvent {
  // Stored type-erased, like handlers: the builder was type-checked here against its event type.
  const erased: TimeoutEvent = { type, build };
  return erased;
}

/** The abort headers of an event, if the SDK emitted it for a timeout or an abort. */
export function readAbort(headers: KafkaHeaders): { cause: AbortCause; step?: string; reason?: string; by?: string } | undefined {
  const cause = headerString(headers, ABORT_HEADER.cause);
  if (cause !== 'deadline' && cause !== 'within' && cause !== 'operator' && cause !== 'late') return undefined;
  const step = headerString(headers, ABORT_HEADER.step);
  const reason = headerString(headers, ABORT_HEADER.reason);
  const by = headerString(headers, ABORT_HEADER.by);
  return {
    cause,
    ...(step !== undefined ? { step } : {}),
    ...(reason !== undefined ? { reason } : {}),
    ...(by !== undefined ? { by } : {}),
  };
}

/**
 * Whether step `step` compensates on an `end.aborted` event with these headers: only when the
 * SDK emitted it for a timeout or an operator (an abort that follows a step failure was already
 * compensated by that failure), and for a late answer only the late step.
 */
export function abortCompensates(headers: KafkaHeaders, step: string): boolean {
  const abort = readAbort(headers);
  if (!abort) return false;
  return abort.cause !== 'late' || abort.step === step;
}
