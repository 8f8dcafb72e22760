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

/** Running: only a contract says what comes next — the first declared step without an outcome, else the end. */
function awaitingNextStep(f: Folded): Awaiting[] {
  const { contract } = f;
  if (contract === undefined) return [];
  let prevDone = f.startedAt;
  for (const s of f.steps) {
    if (!s.declared) continue;
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
