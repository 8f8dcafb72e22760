import { readAbort, type AbortCause, type KafkaHeaders } from '@troupe/core';
import type { EventType } from '@troupe/schema-registry';

// The header names and their reading live in core: the tracker reads what the SDK writes.
export { ABORT_HEADER, readAbort, type AbortCause } from '@troupe/core';

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
