import type { SagaContract } from '@troupe/core';
import type { TrackedEvent } from '../tracked-event.js';

/**
 * The shape version of {@link SagaProjection}. Bump it when `project()` starts deriving something
 * new: a durable store re-projects sagas stored under an older version when it opens.
 */
export const PROJECTION_VERSION = 7;

export const SAGA_STATUSES = ['running', 'completed', 'compensating', 'compensated', 'failed'] as const;
export type SagaStatus = (typeof SAGA_STATUSES)[number];

export const STEP_STATUSES = ['pending', 'completed', 'failed', 'compensated', 'compensation-failed'] as const;
export type StepStatus = (typeof STEP_STATUSES)[number];

export interface StepState {
  readonly name: string;
  /** From the contract, else the source of the step's first event. */
  readonly participant?: string;
  readonly status: StepStatus;
  /** Whether the step was declared in the saga's contract (false: only observed). */
  readonly declared: boolean;
  readonly completedAt?: string;
  readonly failedAt?: string;
  readonly compensatedAt?: string;
  readonly compensationFailedAt?: string;
  /**
   * Time from the event that caused the step's outcome (completion or failure) to that outcome;
   * without a causation id, from the previous step's completion or the saga's start.
   */
  readonly latencyMs?: number;
}

export type FailureKind = 'step-failed' | 'compensation-failed' | 'dead-letter';

export interface Failure {
  readonly kind: FailureKind;
  readonly eventId: string;
  readonly type: string;
  readonly time: string;
  readonly step?: string;
  /** For a failure event its source; for a dead letter, the participant that gave up (if known). */
  readonly participant?: string;
  readonly reason?: string;
}

export interface DeadLetter {
  readonly eventId: string;
  readonly type: string;
  readonly topic: string;
  readonly time: string;
  readonly participant?: string;
  readonly reason?: string;
  /**
   * Replays of it (`troupe-dlq replay`, ADR 0012), oldest first: sent back to `group` by `by` at
   * `at`. A replayed dead letter no longer makes the saga `failed`; what its replay led to shows
   * as the saga's later events.
   */
  readonly replays?: readonly { readonly at: string; readonly by: string; readonly group: string }[];
}

/**
 * Why the SDK ended a saga early (docs/time.md): `timeout` when the contract's deadline or a step's
 * `within` ran out (cause `deadline` or `within`), `operator` for `troupe-saga abort`. Taken from
 * the first event carrying the `troupe_abort_*` headers (the abort event, or with onTimeout:
 * fail-step the step's failure event); a later `late` abort (a step answered after the timeout and
 * is undone) does not change it.
 */
export interface SagaAbort {
  readonly kind: 'timeout' | 'operator';
  readonly cause: 'deadline' | 'within' | 'operator';
  /** The step that was awaited when time ran out or the operator aborted. */
  readonly step?: string;
  /** A sentence, e.g. `step shipping did not answer within 1m`, or the operator's `--reason`. */
  readonly reason?: string;
  /** The initiator that acted on the timeout, or the operator (`--by`). */
  readonly by?: string;
  readonly eventId: string;
  readonly type: string;
  readonly time: string;
  /** Steps that completed after the saga had ended and were asked to undo it (cause `late`). */
  readonly lateSteps?: readonly string[];
}

export interface CausalNode {
  readonly id: string;
  readonly type: string;
  readonly source: string;
  readonly time: string;
  readonly role: TrackedEvent['role'];
  readonly step?: string;
  readonly deadLettered: boolean;
}

export interface CausalEdge {
  readonly from: string;
  readonly to: string;
  /** The causing event is not among the events seen (not yet, or never, consumed). */
  readonly missing: boolean;
}

/** One "this event type followed that one" observation; aggregated per saga type into the flow. */
export interface FlowStep {
  readonly from: string;
  readonly to: string;
  readonly latencyMs: number;
}

/** What a non-terminal saga waits for next. Time-independent: whether it is late needs a `now`. */
export interface Awaiting {
  readonly step?: string;
  /** Event types (Avro full names) any of which would be progress. */
  readonly events: readonly string[];
  readonly participant?: string;
  /** Since when it has been awaited (ISO-8601). */
  readonly since: string;
  /** When the wait becomes overdue per the contract's `within` (ISO-8601); absent: no limit. */
  readonly dueBy?: string;
}

/**
 * Kinds of deviation from the saga's contract: an event type the contract does not expect at that
 * point, an outcome emitted by someone other than the step's owner, a second outcome of one step
 * (or a second start or end), a completion end event while steps are missing, a step's outcome
 * before an earlier step completed.
 */
export const DEVIATION_KINDS = ['unexpected-event', 'wrong-participant', 'duplicate-outcome', 'missing-steps', 'out-of-order'] as const;
export type DeviationKind = (typeof DEVIATION_KINDS)[number];

/** One event that does not fit the contract, and why (a sentence for operators). */
export interface Deviation {
  readonly kind: DeviationKind;
  readonly eventId: string;
  readonly type: string;
  readonly time: string;
  /** `ce_source` of the event: who emitted it. */
  readonly source: string;
  readonly step?: string;
  readonly message: string;
}

export interface SagaProjection {
  readonly sagaId: string;
  readonly sagaType: string;
  /** The contract version the saga started with (`ce_sagaversion`); absent = 1. */
  readonly sagaVersion?: number;
  readonly status: SagaStatus;
  /** Whether a contract for the saga type (and version) was known when projecting. */
  readonly hasContract: boolean;
  readonly startedAt: string;
  /** Time of the end event, or of the event that made the saga terminal. */
  readonly endedAt?: string;
  readonly lastEventAt: string;
  readonly eventCount: number;
  readonly startEvent?: string;
  readonly endEvent?: string;
  readonly steps: readonly StepState[];
  readonly compensations: {
    readonly expected: readonly string[];
    readonly done: readonly string[];
    readonly failed: readonly string[];
    /**
     * Expected steps not compensated (yet): after a `compensation-failed` these are what operators
     * must undo by hand; while compensating, the undos still to come.
     */
    readonly leftToUndo: readonly string[];
  };
  readonly failures: readonly Failure[];
  readonly deadLetters: readonly DeadLetter[];
  /** Present when the saga timed out or an operator aborted it: who and why. */
  readonly abort?: SagaAbort;
  readonly causal: { readonly nodes: readonly CausalNode[]; readonly edges: readonly CausalEdge[] };
  readonly flow: readonly FlowStep[];
  readonly awaiting: readonly Awaiting[];
  /** Business attributes from the contract (e.g. customerId), the first value seen of each. */
  readonly attributes: Readonly<Record<string, string>>;
  /** Where the saga departs from its contract, in event order; empty without a contract. */
  readonly deviations: readonly Deviation[];
  /**
   * The instant from which this saga counts as stuck (earliest overdue `within` or the deadline);
   * absent when terminal or nothing bounds the wait. Stored, so "stuck" is a plain comparison.
   */
  readonly stuckAfter?: string;
}

/** Contracts as `project()` takes them: one contract, or a lookup by saga type. */
export type ContractSource = SagaContract | ((sagaType: string, version?: number) => SagaContract | undefined);

/** ISO-8601 to epoch ms and back: the stages compare instants, the projection stores strings. */
export const ms = (iso: string): number => Date.parse(iso);
export const iso = (t: number): string => new Date(t).toISOString();
