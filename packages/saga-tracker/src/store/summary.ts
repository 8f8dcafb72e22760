import { DEVIATION_KINDS } from '../projection/index.js';
import type { DeviationKind, Failure, FailureKind, SagaProjection } from '../projection/index.js';
import { TrackerError } from '../errors.js';
import type { Percentiles, SagaSummary } from './saga-store.js';

export function summarize(p: SagaProjection): SagaSummary {
  // The branches of a parallel group are awaited together: `payment ∥ inventory`.
  const awaited = p.awaiting.flatMap((a) => (a.step !== undefined ? [a.step] : []));
  const currentStep = awaited.length > 0 ? awaited.join(' ∥ ') : undefined;
  return {
    sagaId: p.sagaId,
    sagaType: p.sagaType,
    status: p.status,
    startedAt: p.startedAt,
    ...(p.endedAt !== undefined ? { endedAt: p.endedAt } : {}),
    lastEventAt: p.lastEventAt,
    eventCount: p.eventCount,
    failureCount: p.failures.length,
    ...(currentStep !== undefined ? { currentStep } : {}),
    ...(p.stuckAfter !== undefined ? { stuckAfter: p.stuckAfter } : {}),
    attributes: p.attributes,
    deviationKinds: deviationKinds(p),
    ...failureOf(p),
    ...(p.deviations[0] !== undefined ? { deviation: p.deviations[0].message } : {}),
    ...abortOf(p),
  };
}

/** Most severe first: an undo that failed leaves the world inconsistent; a dead letter blocks a step. */
const FAILURE_SEVERITY: readonly FailureKind[] = ['compensation-failed', 'dead-letter', 'step-failed'];

/** The saga's most severe failure (the first of its kind), for lists that must say why. */
function failureOf(p: SagaProjection): { failure?: Pick<Failure, 'kind' | 'step' | 'participant' | 'reason'> } {
  for (const kind of FAILURE_SEVERITY) {
    const f = p.failures.find((x) => x.kind === kind);
    if (f !== undefined) {
      return {
        failure: {
          kind: f.kind,
          ...(f.step !== undefined ? { step: f.step } : {}),
          ...(f.participant !== undefined ? { participant: f.participant } : {}),
          ...(f.reason !== undefined ? { reason: f.reason } : {}),
        },
      };
    }
  }
  return {};
}

/** The saga's abort without the event coordinates, for lists that must say why it ended early. */
function abortOf(p: SagaProjection): Pick<SagaSummary, 'abort'> {
  const a = p.abort;
  if (a === undefined) return {};
  return {
    abort: {
      kind: a.kind,
      cause: a.cause,
      ...(a.step !== undefined ? { step: a.step } : {}),
      ...(a.reason !== undefined ? { reason: a.reason } : {}),
      ...(a.by !== undefined ? { by: a.by } : {}),
    },
  };
}

/** The distinct kinds of a projection's deviations, in {@link DEVIATION_KINDS} order. */
export function deviationKinds(p: SagaProjection): DeviationKind[] {
  const seen = new Set(p.deviations.map((d) => d.kind));
  return DEVIATION_KINDS.filter((k) => seen.has(k));
}

/** Zero for every deviation kind: the start of a per-type count. */
export function noDeviations(): Record<DeviationKind, number> {
  return Object.fromEntries(DEVIATION_KINDS.map((k) => [k, 0])) as Record<DeviationKind, number>;
}

/**
 * Nearest-rank percentiles (the smallest value with at least p of the values at or below it):
 * what PostgreSQL's `percentile_disc` computes, so both stores report the same numbers.
 */
export function percentiles(values: number[]): Percentiles {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number): number => sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)] ?? 0;
  return { count: sorted.length, p50: at(0.5), p95: at(0.95), p99: at(0.99) };
}

/** A list position: sagas are listed newest first by start time, then by id descending. */
export interface ListPosition {
  readonly startedAt: number;
  readonly sagaId: string;
}

export function encodeCursor(p: ListPosition): string {
  return Buffer.from(JSON.stringify([p.startedAt, p.sagaId]), 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): ListPosition {
  try {
    const v: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'number' && typeof v[1] === 'string') {
      return { startedAt: v[0], sagaId: v[1] };
    }
  } catch {
    // falls through to the error below
  }
  throw new TrackerError(
    'INVALID_QUERY',
    `cursor '${cursor}' is not one this tracker issued; pass the nextCursor of the previous page unchanged.`,
  );
}

/** Whether position a is listed before b (newer first, then id descending). */
export function listedBefore(a: ListPosition, b: ListPosition): boolean {
  if (a.startedAt !== b.startedAt) return a.startedAt > b.startedAt;
  return a.sagaId > b.sagaId;
}
