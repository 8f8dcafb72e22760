import { DEVIATION_KINDS, SAGA_STATUSES } from '../projection/index.js';
import type { DeviationKind, SagaStatus } from '../projection/index.js';
import type { ActivityBucket, ActivityQuery, SagaSummary, TypeCounts } from './saga-store.js';
import { ACTIVITY_RESOLUTION_MS, emptyActivity } from './flow-counts.js';

/** Column of a minute's activity: started, then ended by outcome. */
const ACTIVITY_COLUMN = { completed: 1, compensated: 2, failed: 3 } as const;

interface Mutable {
  total: number;
  byStatus: Record<SagaStatus, number>;
  nonConforming: number;
  deviations: Record<DeviationKind, number>;
  /** Instants (ms) from which non-terminal sagas are stuck, sorted: "stuck at now" is one binary search. */
  stuckAt: number[];
  /** Per minute (ms / 60000): sagas started, completed, compensated, failed. */
  minutes: Map<number, [number, number, number, number]>;
}

/**
 * Per-type counters for the memory store, updated by adding a saga's summary (+1) and removing its
 * previous one (-1). Summaries carry everything counted, so the store never walks its sagas.
 */
export class TypeCounters {
  private readonly types = new Map<string, Mutable>();

  add(s: SagaSummary, sign: 1 | -1): void {
    let t = this.types.get(s.sagaType);
    if (t === undefined) {
      t = {
        total: 0,
        byStatus: Object.fromEntries(SAGA_STATUSES.map((x) => [x, 0])) as Record<SagaStatus, number>,
        nonConforming: 0,
        deviations: Object.fromEntries(DEVIATION_KINDS.map((x) => [x, 0])) as Record<DeviationKind, number>,
        stuckAt: [],
        minutes: new Map(),
      };
      this.types.set(s.sagaType, t);
    }
    this.addMinute(t, Date.parse(s.startedAt), 0, sign);
    const ended = s.status === 'completed' || s.status === 'compensated' || s.status === 'failed' ? ACTIVITY_COLUMN[s.status] : undefined;
    if (ended !== undefined && s.endedAt !== undefined) this.addMinute(t, Date.parse(s.endedAt), ended, sign);
    t.total += sign;
    t.byStatus[s.status] += sign;
    if (s.deviationKinds.length > 0) t.nonConforming += sign;
    for (const k of s.deviationKinds) t.deviations[k] += sign;
    if (s.stuckAfter !== undefined) {
      const at = Date.parse(s.stuckAfter);
      const i = lowerBound(t.stuckAt, at);
      if (sign === 1) t.stuckAt.splice(i, 0, at);
      else if (t.stuckAt[i] === at) t.stuckAt.splice(i, 1);
    }
    if (t.total === 0) this.types.delete(s.sagaType);
  }

  /** Started and ended sagas per bucket, from the per-minute counters (never from the sagas). */
  activity(q: ActivityQuery): ActivityBucket[] {
    const out = emptyActivity(q);
    const to = q.from + q.buckets * q.bucketMs;
    const types = q.type !== undefined ? [this.types.get(q.type)] : [...this.types.values()];
    for (const t of types) {
      for (const [minute, c] of t?.minutes ?? []) {
        const at = minute * ACTIVITY_RESOLUTION_MS;
        const b = at >= q.from && at < to ? out[Math.floor((at - q.from) / q.bucketMs)] : undefined;
        if (b === undefined) continue;
        b.started += c[0];
        b.completed += c[1];
        b.compensated += c[2];
        b.failed += c[3];
      }
    }
    return out;
  }

  private addMinute(t: Mutable, atMs: number, column: 0 | 1 | 2 | 3, sign: 1 | -1): void {
    const minute = Math.floor(atMs / ACTIVITY_RESOLUTION_MS);
    let c = t.minutes.get(minute);
    if (c === undefined) t.minutes.set(minute, (c = [0, 0, 0, 0]));
    c[column] += sign;
    if (c[0] === 0 && c[1] === 0 && c[2] === 0 && c[3] === 0) t.minutes.delete(minute);
  }

  counts(now: number, type?: string): TypeCounts[] {
    const names = type !== undefined ? [type] : [...this.types.keys()].sort();
    return names.map((sagaType) => {
      const t = this.types.get(sagaType);
      if (t === undefined) return emptyCounts(sagaType);
      return {
        sagaType,
        total: t.total,
        byStatus: { ...t.byStatus },
        stuck: lowerBound(t.stuckAt, now + 1),
        nonConforming: t.nonConforming,
        deviations: { ...t.deviations },
      };
    });
  }
}

export function emptyCounts(sagaType: string): TypeCounts {
  return {
    sagaType,
    total: 0,
    byStatus: Object.fromEntries(SAGA_STATUSES.map((x) => [x, 0])) as Record<SagaStatus, number>,
    stuck: 0,
    nonConforming: 0,
    deviations: Object.fromEntries(DEVIATION_KINDS.map((x) => [x, 0])) as Record<DeviationKind, number>,
  };
}

/** First index whose value is not below `v` in an ascending array. */
function lowerBound(sorted: readonly number[], v: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid] ?? 0) < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
