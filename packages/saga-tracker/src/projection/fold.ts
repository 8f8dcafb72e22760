import type { SagaContract, SagaStepContract } from '@troupe/core';
import type { TrackedEvent } from '../tracked-event.js';
import { compareCopies, eventKey } from '../tracked-event.js';
import { ms } from './types.js';
import type { ContractSource, DeadLetter, Failure, FailureKind } from './types.js';

/** Deterministic order of a saga's events: event time, then id, then key (dead-letter copies last). */
export function compareEvents(a: TrackedEvent, b: TrackedEvent): number {
  const dt = ms(a.time) - ms(b.time);
  if (dt !== 0) return dt;
  if (a.id !== b.id) return a.id < b.id ? -1 : 1;
  const ka = eventKey(a);
  const kb = eventKey(b);
  return ka === kb ? 0 : ka < kb ? -1 : 1;
}

/** A step while folding; frozen into a {@link StepState} at the end. */
export interface MutableStep {
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

/** What the fold stage learns from the event set; every later stage reads only this. */
export interface Folded {
  /** The set, deduplicated by key and in {@link compareEvents} order; never empty. */
  readonly events: readonly TrackedEvent[];
  /** Events as emitted (not dead-letter copies). */
  readonly originals: readonly TrackedEvent[];
  readonly byId: ReadonlyMap<string, TrackedEvent>;
  readonly first: TrackedEvent;
  readonly last: TrackedEvent;
  readonly startEvent?: TrackedEvent;
  readonly endEvent?: TrackedEvent;
  readonly sagaType: string;
  readonly sagaVersion?: number;
  readonly contract?: SagaContract;
  readonly startedAt: string;
  /** Declared steps in contract order, then observed-only steps by when they were first seen. */
  readonly steps: readonly MutableStep[];
  readonly failures: readonly Failure[];
  readonly deadLetters: readonly DeadLetter[];
}

/** The step an event belongs to: its step header, else the contract step naming its type. */
export function stepOfEvent(e: TrackedEvent, contract: SagaContract | undefined): string | undefined {
  if (e.step !== undefined && e.step !== '') return e.step;
  if (contract === undefined) return undefined;
  for (const s of contract.steps) {
    if (e.type === s.completed || e.type === s.failed || e.type === s.compensated || e.type === s.compensationFailed) {
      return s.name;
    }
  }
  return undefined;
}

/** Deduplicates by {@link eventKey} (keeping one copy by a fixed rule) and sorts. */
export function eventSet(input: Iterable<TrackedEvent>): TrackedEvent[] {
  const byKey = new Map<string, TrackedEvent>();
  for (const e of input) {
    const k = eventKey(e);
    const seen = byKey.get(k);
    // Copies with one key carry the same envelope; keep one by a fixed rule so output is stable.
    if (seen === undefined || compareCopies(e, seen) < 0) byKey.set(k, e);
  }
  return [...byKey.values()].sort(compareEvents);
}

/** Folds the event set, in order, into steps, failures and dead letters. */
export function fold(input: Iterable<TrackedEvent>, contracts: ContractSource | undefined): Folded {
  const events = eventSet(input);
  const first = events[0];
  if (first === undefined) throw new RangeError('project() needs at least one event');
  const originals = events.filter((e) => e.deadLetter === undefined);
  const byId = new Map<string, TrackedEvent>();
  for (const e of originals) if (!byId.has(e.id)) byId.set(e.id, e);

  const startEvent = originals.find((e) => e.role === 'start');
  const sagaType = startEvent?.sagaType ?? first.sagaType;
  // The version the initiator stamped on the start (carried by every later event): the rules this saga follows.
  const sagaVersion = startEvent?.sagaVersion ?? originals.find((e) => e.sagaVersion !== undefined)?.sagaVersion;
  const contract =
    typeof contracts === 'function'
      ? contracts(sagaType, sagaVersion)
      : contracts?.saga === sagaType && (contracts.version ?? 1) === (sagaVersion ?? 1)
        ? contracts
        : undefined;
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
  const replays = new Map<string, { at: string; by: string; group: string }[]>();
  for (const e of events) {
    const replay = e.deadLetter?.replay;
    if (replay !== undefined) {
      replays.set(e.id, [...(replays.get(e.id) ?? []), { at: replay.at, by: replay.by, group: replay.group }]);
      continue;
    }
    if (e.deadLetter !== undefined) {
      const step = stepOfEvent(e, contract);
      const who = {
        ...(e.deadLetter.participant !== undefined ? { participant: e.deadLetter.participant } : {}),
        ...(e.deadLetter.reason !== undefined ? { reason: e.deadLetter.reason } : {}),
      };
      deadLetters.push({ eventId: e.id, type: e.type, topic: e.deadLetter.topic, time: e.time, ...who });
      failures.push({ kind: 'dead-letter', eventId: e.id, type: e.type, time: e.time, ...(step !== undefined ? { step } : {}), ...who });
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
      case 'compensated':
        stepFor(e).compensatedAt ??= e.time;
        break;
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

  // Each dead letter with the replays recorded for its event, oldest first.
  for (const [i, d] of deadLetters.entries()) {
    const r = replays.get(d.eventId);
    if (r !== undefined) deadLetters[i] = { ...d, replays: [...r].sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0)) };
  }
  const ordered = [...steps.values()].sort((a, b) => {
    if (a.declared !== b.declared) return a.declared ? -1 : 1;
    if (a.declared) return 0;
    return ms(a.firstSeen ?? startedAt) - ms(b.firstSeen ?? startedAt) || (a.name < b.name ? -1 : 1);
  });
  return {
    events,
    originals,
    byId,
    first,
    last: events[events.length - 1] ?? first,
    ...(startEvent !== undefined ? { startEvent } : {}),
    ...(endEvent !== undefined ? { endEvent } : {}),
    sagaType,
    ...(contract !== undefined ? { contract } : {}),
    ...(sagaVersion !== undefined ? { sagaVersion } : {}),
    startedAt,
    steps: ordered,
    failures,
    deadLetters,
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
