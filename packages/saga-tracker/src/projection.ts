import type { SagaContract, SagaStepContract } from '@troupe/core';
import type { TrackedEvent } from './tracked-event.js';
import { compareCopies, eventKey } from './tracked-event.js';

export const SAGA_STATUSES = ['running', 'completed', 'compensating', 'compensated', 'failed'] as const;
export type SagaStatus = (typeof SAGA_STATUSES)[number];

export type StepStatus = 'pending' | 'completed' | 'failed' | 'compensated' | 'compensation-failed';

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

export interface SagaProjection {
  readonly sagaId: string;
  readonly sagaType: string;
  readonly status: SagaStatus;
  /** Whether a contract for the saga type was known when projecting. */
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
  };
  readonly failures: readonly Failure[];
  readonly deadLetters: readonly DeadLetter[];
  readonly causal: { readonly nodes: readonly CausalNode[]; readonly edges: readonly CausalEdge[] };
  readonly flow: readonly FlowStep[];
  readonly awaiting: readonly Awaiting[];
  /**
   * The instant from which this saga counts as stuck (earliest overdue `within` or the deadline);
   * absent when terminal or nothing bounds the wait. Stored, so "stuck" is a plain comparison.
   */
  readonly stuckAfter?: string;
}

const ms = (iso: string): number => Date.parse(iso);
const iso = (t: number): string => new Date(t).toISOString();

/** Deterministic order of a saga's events: event time, then id, then key (dead-letter copies last). */
export function compareEvents(a: TrackedEvent, b: TrackedEvent): number {
  const dt = ms(a.time) - ms(b.time);
  if (dt !== 0) return dt;
  if (a.id !== b.id) return a.id < b.id ? -1 : 1;
  const ka = eventKey(a);
  const kb = eventKey(b);
  return ka === kb ? 0 : ka < kb ? -1 : 1;
}

interface MutableStep {
  name: string;
  participant?: string;
  declared: boolean;
  contract?: SagaStepContract;
  completedAt?: string;
  failedAt?: string;
  compensatedAt?: string;
  compensationFailedAt?: string;
  outcome?: TrackedEvent;
  firstSeen?: string;
}

function stepStatus(s: MutableStep): StepStatus {
  if (s.compensationFailedAt !== undefined) return 'compensation-failed';
  if (s.compensatedAt !== undefined) return 'compensated';
  if (s.failedAt !== undefined) return 'failed';
  if (s.completedAt !== undefined) return 'completed';
  return 'pending';
}

function stepOfEvent(e: TrackedEvent, contract: SagaContract | undefined): string | undefined {
  if (e.step !== undefined && e.step !== '') return e.step;
  if (contract === undefined) return undefined;
  for (const s of contract.steps) {
    if (e.type === s.completed || e.type === s.failed || e.type === s.compensated || e.type === s.compensationFailed) {
      return s.name;
    }
  }
  return undefined;
}

/**
 * The state of one saga, derived from the SET of its events: the input is deduplicated by
 * {@link eventKey} and sorted deterministically before folding, so a duplicate or a different
 * arrival order across topics yields an identical projection. Pure: no clock, no I/O.
 *
 * `contracts` (one contract, or a lookup by saga type) adds expected steps, compensability and time limits; without
 * it the projection holds only what the headers say.
 */
export function project(
  input: Iterable<TrackedEvent>,
  contracts?: SagaContract | ((sagaType: string) => SagaContract | undefined),
): SagaProjection {
  const byKey = new Map<string, TrackedEvent>();
  for (const e of input) {
    const k = eventKey(e);
    const seen = byKey.get(k);
    // Copies with one key carry the same envelope; keep one by a fixed rule so output is stable.
    if (seen === undefined || compareCopies(e, seen) < 0) byKey.set(k, e);
  }
  const events = [...byKey.values()].sort(compareEvents);
  const first = events[0];
  if (first === undefined) throw new RangeError('project() needs at least one event');

  const originals = events.filter((e) => e.deadLetter === undefined);
  const byId = new Map<string, TrackedEvent>();
  for (const e of originals) if (!byId.has(e.id)) byId.set(e.id, e);

  const startEvent = originals.find((e) => e.role === 'start');
  const sagaType = startEvent?.sagaType ?? first.sagaType;
  const contract = typeof contracts === 'function' ? contracts(sagaType) : contracts?.saga === sagaType ? contracts : undefined;
  const startedAt = startEvent?.time ?? first.time;

  const steps = new Map<string, MutableStep>();
  for (const s of contract?.steps ?? []) steps.set(s.name, { name: s.name, participant: s.participant, declared: true, contract: s });
  const stepFor = (e: TrackedEvent): MutableStep => {
    const name = stepOfEvent(e, contract) ?? e.type;
    let s = steps.get(name);
    if (s === undefined) {
      s = { name, participant: e.source, declared: false, firstSeen: e.time };
      steps.set(name, s);
    }
    return s;
  };

  let endEvent: TrackedEvent | undefined;
  const failures: Failure[] = [];
  const deadLetters: DeadLetter[] = [];

  for (const e of events) {
    if (e.deadLetter !== undefined) {
      const step = stepOfEvent(e, contract);
      deadLetters.push({
        eventId: e.id,
        type: e.type,
        topic: e.deadLetter.topic,
        time: e.time,
        ...(e.deadLetter.participant !== undefined ? { participant: e.deadLetter.participant } : {}),
        ...(e.deadLetter.reason !== undefined ? { reason: e.deadLetter.reason } : {}),
      });
      failures.push({
        kind: 'dead-letter',
        eventId: e.id,
        type: e.type,
        time: e.time,
        ...(step !== undefined ? { step } : {}),
        ...(e.deadLetter.participant !== undefined ? { participant: e.deadLetter.participant } : {}),
        ...(e.deadLetter.reason !== undefined ? { reason: e.deadLetter.reason } : {}),
      });
      continue;
    }
    switch (e.role) {
      case 'start':
        break;
      case 'end':
        endEvent ??= e;
        break;
      case 'step-completed': {
        const s = stepFor(e);
        if (s.completedAt === undefined) {
          s.completedAt = e.time;
          s.outcome ??= e;
        }
        break;
      }
      case 'step-failed': {
        const s = stepFor(e);
        if (s.failedAt === undefined) {
          s.failedAt = e.time;
          s.outcome = e;
          failures.push(failureOf('step-failed', e, s.name));
        }
        break;
      }
      case 'compensated': {
        const s = stepFor(e);
        s.compensatedAt ??= e.time;
        break;
      }
      case 'compensation-failed': {
        const s = stepFor(e);
        if (s.compensationFailedAt === undefined) {
          s.compensationFailedAt = e.time;
          failures.push(failureOf('compensation-failed', e, s.name));
        }
        break;
      }
    }
  }

  // Declared steps in contract order, then observed-only steps by when they were first seen.
  const ordered = [...steps.values()].sort((a, b) => {
    if (a.declared !== b.declared) return a.declared ? -1 : 1;
    if (a.declared) return 0;
    return ms(a.firstSeen ?? startedAt) - ms(b.firstSeen ?? startedAt) || (a.name < b.name ? -1 : 1);
  });

  const stepStates: StepState[] = ordered.map((s, i) => {
    let latencyMs: number | undefined;
    if (s.outcome !== undefined) {
      const cause = s.outcome.causationId !== undefined ? byId.get(s.outcome.causationId) : undefined;
      const prev = i > 0 ? ordered[i - 1]?.completedAt : undefined;
      const from = cause?.time ?? prev ?? startedAt;
      latencyMs = Math.max(0, ms(s.outcome.time) - ms(from));
    }
    return {
      name: s.name,
      ...(s.participant !== undefined ? { participant: s.participant } : {}),
      status: stepStatus(s),
      declared: s.declared,
      ...(s.completedAt !== undefined ? { completedAt: s.completedAt } : {}),
      ...(s.failedAt !== undefined ? { failedAt: s.failedAt } : {}),
      ...(s.compensatedAt !== undefined ? { compensatedAt: s.compensatedAt } : {}),
      ...(s.compensationFailedAt !== undefined ? { compensationFailedAt: s.compensationFailedAt } : {}),
      ...(latencyMs !== undefined ? { latencyMs } : {}),
    };
  });

  const failedSteps = ordered.filter((s) => s.failedAt !== undefined);
  const endKind: 'completed' | 'aborted' | undefined =
    endEvent === undefined
      ? undefined
      : contract !== undefined && endEvent.type === contract.end.completed
        ? 'completed'
        : contract !== undefined && endEvent.type === contract.end.aborted
          ? 'aborted'
          : failedSteps.length > 0
            ? 'aborted'
            : 'completed';
  const aborting = failedSteps.length > 0 || endKind === 'aborted';

  // A step needs undoing when it took effect, did not itself fail, and is compensable: per the
  // contract, or — without one — any completed step (nothing says otherwise).
  const expected = aborting
    ? ordered.filter(
        (s) =>
          s.completedAt !== undefined &&
          s.failedAt === undefined &&
          (s.contract !== undefined ? s.contract.compensated !== undefined : true),
      )
    : [];
  const done = ordered.filter((s) => s.compensatedAt !== undefined);
  const compFailed = ordered.filter((s) => s.compensationFailedAt !== undefined);
  const pending = expected.filter((s) => s.compensatedAt === undefined && s.compensationFailedAt === undefined);

  let status: SagaStatus;
  if (compFailed.length > 0 || deadLetters.length > 0) status = 'failed';
  else if (!aborting) status = endKind === 'completed' ? 'completed' : 'running';
  else if (pending.length === 0 || (contract === undefined && endKind === 'aborted')) status = 'compensated';
  else status = 'compensating';

  const last = events[events.length - 1] ?? first;
  const terminal = status !== 'running' && status !== 'compensating';
  const endedAt = terminal ? (endEvent?.time ?? terminalTime(status, failures, done, last)) : undefined;

  const awaiting = terminal ? [] : awaitingOf({ status, contract, ordered, pending, startedAt, failedSteps });
  let stuckAt = Number.POSITIVE_INFINITY;
  for (const a of awaiting) if (a.dueBy !== undefined) stuckAt = Math.min(stuckAt, ms(a.dueBy));
  if (!terminal && contract?.deadlineMs !== undefined) stuckAt = Math.min(stuckAt, ms(startedAt) + contract.deadlineMs);

  const deadLettered = new Set(deadLetters.map((d) => d.eventId));
  const nodes: CausalNode[] = originals.map((e) => ({
    id: e.id,
    type: e.type,
    source: e.source,
    time: e.time,
    role: e.role,
    ...(stepOfEvent(e, contract) !== undefined ? { step: stepOfEvent(e, contract) } : {}),
    deadLettered: deadLettered.has(e.id),
  }));
  const edges: CausalEdge[] = [];
  const flow: FlowStep[] = [];
  for (const e of originals) {
    if (e.causationId === undefined) continue;
    const cause = byId.get(e.causationId);
    edges.push({ from: e.causationId, to: e.id, missing: cause === undefined });
    if (cause !== undefined) flow.push({ from: cause.type, to: e.type, latencyMs: Math.max(0, ms(e.time) - ms(cause.time)) });
  }
  for (const d of deadLetters) {
    const orig = byId.get(d.eventId);
    flow.push({ from: d.type, to: `dead-letter:${d.topic}`, latencyMs: orig === undefined ? 0 : Math.max(0, ms(d.time) - ms(orig.time)) });
  }

  return {
    sagaId: first.sagaId,
    sagaType,
    status,
    hasContract: contract !== undefined,
    startedAt,
    ...(endedAt !== undefined ? { endedAt } : {}),
    lastEventAt: last.time,
    eventCount: events.length,
    ...(startEvent !== undefined ? { startEvent: startEvent.type } : {}),
    ...(endEvent !== undefined ? { endEvent: endEvent.type } : {}),
    steps: stepStates,
    compensations: {
      expected: expected.map((s) => s.name),
      done: done.map((s) => s.name),
      failed: compFailed.map((s) => s.name),
    },
    failures,
    deadLetters,
    causal: { nodes, edges },
    flow,
    awaiting,
    ...(Number.isFinite(stuckAt) ? { stuckAfter: iso(stuckAt) } : {}),
  };
}

function failureOf(kind: FailureKind, e: TrackedEvent, step: string): Failure {
  return {
    kind,
    eventId: e.id,
    type: e.type,
    time: e.time,
    step,
    participant: e.source,
    ...(e.reason !== undefined ? { reason: e.reason } : {}),
  };
}

function terminalTime(status: SagaStatus, failures: readonly Failure[], done: readonly MutableStep[], last: TrackedEvent): string {
  if (status === 'failed') return failures.find((f) => f.kind !== 'step-failed')?.time ?? last.time;
  const times = done.map((s) => s.compensatedAt).filter((t): t is string => t !== undefined);
  if (status === 'compensated' && times.length > 0) return times.reduce((a, b) => (ms(a) >= ms(b) ? a : b));
  return failures[0]?.time ?? last.time;
}

function awaitingOf(args: {
  status: SagaStatus;
  contract: SagaContract | undefined;
  ordered: readonly MutableStep[];
  pending: readonly MutableStep[];
  startedAt: string;
  failedSteps: readonly MutableStep[];
}): Awaiting[] {
  const { status, contract, ordered, pending, startedAt, failedSteps } = args;
  if (status === 'compensating') {
    const since = failedSteps[0]?.failedAt ?? startedAt;
    return pending.map((s) => {
      const within = s.contract?.withinMs;
      return {
        step: s.name,
        events: s.contract?.compensated !== undefined ? [s.contract.compensated] : [],
        ...(s.participant !== undefined ? { participant: s.participant } : {}),
        since,
        ...(within !== undefined ? { dueBy: iso(ms(since) + within) } : {}),
      };
    });
  }
  // Running: only a contract says what comes next.
  if (contract === undefined) return [];
  const declared = ordered.filter((s) => s.declared);
  let prevDone = startedAt;
  for (const s of declared) {
    if (s.completedAt === undefined && s.failedAt === undefined) {
      const c = s.contract;
      const within = c?.withinMs;
      return [
        {
          step: s.name,
          events: c !== undefined ? [c.completed, c.failed] : [],
          ...(s.participant !== undefined ? { participant: s.participant } : {}),
          since: prevDone,
          ...(within !== undefined ? { dueBy: iso(ms(prevDone) + within) } : {}),
        },
      ];
    }
    if (s.completedAt !== undefined && ms(s.completedAt) > ms(prevDone)) prevDone = s.completedAt;
  }
  return [
    {
      events: [contract.end.completed],
      ...(contract.initiator !== undefined ? { participant: contract.initiator } : {}),
      since: prevDone,
    },
  ];
}
