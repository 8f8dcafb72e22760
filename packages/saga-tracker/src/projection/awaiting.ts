import { contractStages } from '@troupe/core';
import type { Folded } from './fold.js';
import type { StatusStage } from './status.js';
import { iso, ms } from './types.js';
import type { Awaiting } from './types.js';

/** What a non-terminal saga waits for, and from when it counts as stuck. */
export interface AwaitingStage {
  readonly awaiting: readonly Awaiting[];
  /** Absent when nothing bounds the wait. */
  readonly stuckAfter?: string;
}

export function awaitingOf(f: Folded, st: StatusStage): AwaitingStage {
  if (st.terminal) return { awaiting: [] };
  const awaiting = st.status === 'compensating' ? awaitingCompensations(f, st) : awaitingNextStep(f);
  let stuckAt = Number.POSITIVE_INFINITY;
  for (const a of awaiting) if (a.dueBy !== undefined) stuckAt = Math.min(stuckAt, ms(a.dueBy));
  if (f.contract?.deadlineMs !== undefined) stuckAt = Math.min(stuckAt, ms(f.startedAt) + f.contract.deadlineMs);
  return { awaiting, ...(Number.isFinite(stuckAt) ? { stuckAfter: iso(stuckAt) } : {}) };
}

/** Compensating: every expected compensation not yet seen, all awaited since the first failure. */
function awaitingCompensations(f: Folded, st: StatusStage): Awaiting[] {
  const since = st.failedSteps[0]?.failedAt ?? f.startedAt;
  return st.pending.map((s) => {
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

/**
 * Running: only a contract says what comes next — every step of the first stage without an outcome
 * (several at once in a parallel group, each with its own limit), else the end. A stage counts as
 * done when each of its steps has an outcome (an optional step's failure included); the next one
 * is awaited from the latest of them.
 */
function awaitingNextStep(f: Folded): Awaiting[] {
  const { contract } = f;
  if (contract === undefined) return [];
  const byName = new Map(f.steps.map((s) => [s.name, s]));
  let prevDone = f.startedAt;
  for (const stage of contractStages(contract)) {
    const open: Awaiting[] = [];
    let stageDone = prevDone;
    for (const c of stage.steps) {
      const s = byName.get(c.name);
      const outcomeAt = s?.completedAt ?? s?.failedAt;
      if (outcomeAt === undefined) {
        open.push({
          step: c.name,
          events: [c.completed, c.failed],
          participant: c.participant,
          since: prevDone,
          ...(c.withinMs !== undefined ? { dueBy: iso(ms(prevDone) + c.withinMs) } : {}),
        });
      } else if (ms(outcomeAt) > ms(stageDone)) stageDone = outcomeAt;
    }
    if (open.length > 0) return open;
    prevDone = stageDone;
  }
  return [
    {
      events: [contract.end.completed],
      ...(contract.initiator !== undefined ? { participant: contract.initiator } : {}),
      since: prevDone,
    },
  ];
}
