import type { MutableStep, Folded } from './fold.js';
import { ms } from './types.js';
import type { Failure, SagaProjection, SagaStatus, StepState, StepStatus } from './types.js';

/** The saga's status and compensation bookkeeping, derived from the folded steps. */
export interface StatusStage {
  readonly status: SagaStatus;
  readonly terminal: boolean;
  readonly endedAt?: string;
  /** Steps that failed, in step order. */
  readonly failedSteps: readonly MutableStep[];
  /** Steps whose compensation is expected but neither done nor failed. */
  readonly pending: readonly MutableStep[];
  readonly compensations: SagaProjection['compensations'];
}

export function statusOf(f: Folded): StatusStage {
  const { contract, endEvent, steps } = f;
  // An optional step's failure does not fail the saga (ADR 0017): it goes on as after a completion.
  const failedSteps = steps.filter((s) => s.failedAt !== undefined && s.contract?.optional !== true);
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
    ? steps.filter(
        (s) =>
          s.completedAt !== undefined &&
          s.failedAt === undefined &&
          (s.contract !== undefined ? s.contract.compensated !== undefined : true),
      )
    : [];
  const done = steps.filter((s) => s.compensatedAt !== undefined);
  const compFailed = steps.filter((s) => s.compensationFailedAt !== undefined);
  const pending = expected.filter((s) => s.compensatedAt === undefined && s.compensationFailedAt === undefined);

  let status: SagaStatus;
  // A replayed dead letter is no longer an open failure: its replay's outcome shows in later events.
  const openDeadLetters = f.deadLetters.filter((d) => d.replays === undefined);
  if (compFailed.length > 0 || openDeadLetters.length > 0) status = 'failed';
  else if (!aborting) status = endKind === 'completed' ? 'completed' : 'running';
  else if (pending.length === 0 || (contract === undefined && endKind === 'aborted')) status = 'compensated';
  else status = 'compensating';

  const terminal = status !== 'running' && status !== 'compensating';
  const endedAt = terminal ? (endEvent?.time ?? terminalTime(status, f.failures, done, f.last.time)) : undefined;
  return {
    status,
    terminal,
    ...(endedAt !== undefined ? { endedAt } : {}),
    failedSteps,
    pending,
    compensations: {
      expected: expected.map((s) => s.name),
      done: done.map((s) => s.name),
      failed: compFailed.map((s) => s.name),
      // What still stands: expected undos that neither happened nor are still coming (failed), or are still pending.
      leftToUndo: expected.filter((s) => s.compensatedAt === undefined).map((s) => s.name),
    },
  };
}

/** Without an end event, the saga ended when whatever made it terminal happened. */
function terminalTime(status: SagaStatus, failures: readonly Failure[], done: readonly MutableStep[], lastTime: string): string {
  if (status === 'failed') return failures.find((f) => f.kind !== 'step-failed')?.time ?? lastTime;
  const times = done.map((s) => s.compensatedAt).filter((t): t is string => t !== undefined);
  if (status === 'compensated' && times.length > 0) return times.reduce((a, b) => (ms(a) >= ms(b) ? a : b));
  return failures[0]?.time ?? lastTime;
}

function stepStatus(s: MutableStep): StepStatus {
  if (s.compensationFailedAt !== undefined) return 'compensation-failed';
  if (s.compensatedAt !== undefined) return 'compensated';
  if (s.failedAt !== undefined) return 'failed';
  if (s.completedAt !== undefined) return 'completed';
  return 'pending';
}

/** Freezes the folded steps, with each outcome's latency from its cause. */
export function stepStates(f: Folded): StepState[] {
  return f.steps.map((s, i) => {
    let latencyMs: number | undefined;
    if (s.outcome !== undefined) {
      const cause = s.outcome.causationId !== undefined ? f.byId.get(s.outcome.causationId) : undefined;
      const prev = i > 0 ? f.steps[i - 1]?.completedAt : undefined;
      const from = cause?.time ?? prev ?? f.startedAt;
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
}
