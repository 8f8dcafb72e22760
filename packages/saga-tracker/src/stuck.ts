import type { Awaiting, SagaProjection } from './projection/index.js';

export interface StuckInfo {
  readonly stuck: boolean;
  /** Human sentence: what is awaited, from whom, since when (empty when not stuck). */
  readonly reason?: string;
  readonly step?: string;
  readonly awaiting?: readonly string[];
  readonly participant?: string;
  readonly since?: string;
  /** How long past its limit the saga is, in ms. */
  readonly overdueMs?: number;
  /** Whether the whole-saga deadline (rather than a step's `within`) is what passed. */
  readonly deadlinePassed?: boolean;
  /**
   * One reason per awaited step when several are awaited at once (the branches of a parallel
   * group), most overdue first; `reason` then joins them.
   */
  readonly branches?: readonly { readonly step: string; readonly reason: string; readonly overdue: boolean }[];
}

const NOT_STUCK: StuckInfo = { stuck: false };

/** `4m 10s`, `950ms`, `2h 3m`: short, for reasons shown to operators. */
export function formatDuration(msTotal: number): string {
  const t = Math.max(0, Math.round(msTotal));
  if (t < 1000) return `${t}ms`;
  const s = Math.floor(t / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 === 0 ? `${m}m` : `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  return m % 60 === 0 ? `${h}h` : `${h}h ${m % 60}m`;
}

const shortName = (type: string): string => type.slice(type.lastIndexOf('.') + 1);

/**
 * Whether a saga is stuck at `now` and why. Pure: the projection already holds what is awaited and
 * from when it is late ({@link SagaProjection.stuckAfter}); only the comparison needs a clock.
 */
export function stuckInfo(p: SagaProjection, now: number): StuckInfo {
  if (p.stuckAfter === undefined || now < Date.parse(p.stuckAfter)) return NOT_STUCK;
  // The most overdue wait explains it best; a deadline with nothing overdue falls back to the first wait.
  const overdue = p.awaiting
    .filter((a) => a.dueBy !== undefined && Date.parse(a.dueBy) <= now)
    .sort((a, b) => Date.parse(a.dueBy ?? '') - Date.parse(b.dueBy ?? ''));
  const a: Awaiting | undefined = overdue[0] ?? p.awaiting[0];
  const deadlinePassed = overdue.length === 0;
  const overdueMs = now - Date.parse(p.stuckAfter);
  if (a === undefined) {
    return { stuck: true, reason: `saga deadline passed ${formatDuration(overdueMs)} ago`, overdueMs, deadlinePassed };
  }
  const sentence = (w: Awaiting): string => {
    const what = w.events.length > 0 ? w.events.map(shortName).join(' or ') : 'progress';
    const from = w.participant !== undefined ? ` from ${w.participant}` : '';
    const step = w.step !== undefined ? ` (step ${w.step})` : '';
    return `waiting ${formatDuration(now - Date.parse(w.since))} for ${what}${from}${step} since ${w.since}`;
  };
  const several = p.awaiting.filter((w) => w.step !== undefined).length > 1;
  const branches = several
    ? [...overdue, ...p.awaiting.filter((w) => !overdue.includes(w))].map((w) => ({
        step: w.step ?? '',
        reason: sentence(w),
        overdue: overdue.includes(w),
      }))
    : undefined;
  const reason = `${branches ? branches.map((b) => b.reason).join('; ') : sentence(a)}${deadlinePassed ? '; saga deadline passed' : ''}`;
  return {
    stuck: true,
    reason,
    ...(a.step !== undefined ? { step: a.step } : {}),
    awaiting: a.events,
    ...(a.participant !== undefined ? { participant: a.participant } : {}),
    since: a.since,
    overdueMs,
    deadlinePassed,
    ...(branches ? { branches } : {}),
  };
}
