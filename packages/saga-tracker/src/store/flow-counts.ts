import type { SagaContract } from '@troupe/core';
import { TrackerError } from '../errors.js';
import { STEP_STATUSES } from '../projection/index.js';
import type { SagaProjection, StepStatus } from '../projection/index.js';
import type { ActivityBucket, ActivityQuery, StepCounts } from './saga-store.js';

type MutableCounts = { step: string; awaiting: number; byStatus: Record<StepStatus, number>; deviations: number };

/** Per-step counts of one saga type, accumulated saga by saga (memory) or row by row (PostgreSQL). */
export class StepCounter {
  private readonly steps = new Map<string, MutableCounts>();

  constructor(private readonly contract: SagaContract | undefined) {
    for (const s of contract?.steps ?? []) this.entry(s.name);
  }

  add(p: SagaProjection): void {
    for (const s of p.steps) this.entry(s.name).byStatus[s.status]++;
    for (const a of p.awaiting) if (a.step !== undefined) this.entry(a.step).awaiting++;
    for (const d of p.deviations) if (d.step !== undefined) this.entry(d.step).deviations++;
  }

  /** Adds `n` to one figure (from an SQL aggregate). */
  addCount(step: string, what: StepStatus | 'awaiting' | 'deviations', n: number): void {
    const e = this.entry(step);
    if (what === 'awaiting') e.awaiting += n;
    else if (what === 'deviations') e.deviations += n;
    else e.byStatus[what] += n;
  }

  /** Contract steps in contract order, then steps only observed, by name. */
  result(): StepCounts[] {
    const declared = new Set((this.contract?.steps ?? []).map((s) => s.name));
    const order = [...(this.contract?.steps ?? []).map((s) => s.name), ...[...this.steps.keys()].filter((n) => !declared.has(n)).sort()];
    return order.map((n) => this.steps.get(n)).filter((e): e is MutableCounts => e !== undefined);
  }

  private entry(step: string): MutableCounts {
    let e = this.steps.get(step);
    if (e === undefined) {
      e = {
        step,
        awaiting: 0,
        byStatus: Object.fromEntries(STEP_STATUSES.map((s) => [s, 0])) as Record<StepStatus, number>,
        deviations: 0,
      };
      this.steps.set(step, e);
    }
    return e;
  }
}

/** Empty activity buckets for a query, to be filled by a store. */
export function emptyActivity(q: ActivityQuery): { -readonly [K in keyof ActivityBucket]: ActivityBucket[K] }[] {
  return Array.from({ length: q.buckets }, (_, i) => ({
    at: new Date(q.from + i * q.bucketMs).toISOString(),
    started: 0,
    completed: 0,
    compensated: 0,
    failed: 0,
  }));
}

export const ACTIVITY_RESOLUTION_MS = 60_000;

/** Buckets are whole minutes on minute boundaries, so both stores count every saga in the same bucket. */
export function checkActivityQuery(q: ActivityQuery): void {
  const whole = (v: number): boolean => Number.isInteger(v) && v % ACTIVITY_RESOLUTION_MS === 0;
  if (!whole(q.from) || !whole(q.bucketMs) || q.bucketMs <= 0 || !Number.isInteger(q.buckets) || q.buckets < 1 || q.buckets > 1440) {
    throw new TrackerError(
      'INVALID_QUERY',
      `activity buckets must start on a minute boundary and be whole minutes (1 to 1440 of them); got from=${q.from}, bucketMs=${q.bucketMs}, buckets=${q.buckets}.`,
    );
  }
}
