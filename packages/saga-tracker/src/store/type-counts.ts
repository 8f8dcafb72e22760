import { DEVIATION_KINDS, SAGA_STATUSES } from '../projection/index.js';
import type { DeviationKind, SagaStatus } from '../projection/index.js';
import type { SagaSummary, TypeCounts } from './saga-store.js';

interface Mutable {
  total: number;
  byStatus: Record<SagaStatus, number>;
  nonConforming: number;
  deviations: Record<DeviationKind, number>;
  /** Instants (ms) from which non-terminal sagas are stuck, sorted: "stuck at now" is one binary search. */
  stuckAt: number[];
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
      };
      this.types.set(s.sagaType, t);
    }
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
