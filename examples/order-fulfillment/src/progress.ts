import type { ExpectedStatus } from './world.js';

/** The tracker's view of the run, from `GET /api/stats`. */
export interface TrackerCounts {
  readonly total: number;
  readonly running: number;
  readonly compensating: number;
  readonly completed: number;
  readonly compensated: number;
  /** Of `compensated`: those the order service cancelled because time ran out (the tracker's `abort.kind`). */
  readonly timedOut: number;
  readonly failed: number;
  readonly stuck: number;
  /** Of `stuck`: overdue for longer than {@link STUCK_GRACE_MS}, so nobody is going to act on them. */
  readonly stuckForGood: number;
}

/**
 * How long a saga may be stuck before the demo counts it as settled. The tracker calls a saga stuck
 * the moment the contract's limit passes (from the event's time); the order service acts on the
 * same limit from when it saw the event, a little later, and then the compensations follow. So a
 * saga stuck at shipping is about to be cancelled, not yet an outcome.
 */
export const STUCK_GRACE_MS = 90_000;

interface ListResponse {
  items: { status: string; stuck: { stuck: boolean; overdueMs?: number }; abort?: { kind: string } }[];
  nextCursor?: string;
}

/**
 * Counts this run's sagas (by saga id prefix: a long-lived broker holds earlier runs too) through
 * the tracker's list API, page by page.
 */
export async function fetchCounts(trackerUrl: string, sagaType: string, idPrefix: string): Promise<TrackerCounts> {
  const c = { total: 0, running: 0, compensating: 0, completed: 0, compensated: 0, timedOut: 0, failed: 0, stuck: 0, stuckForGood: 0 };
  let cursor: string | undefined;
  do {
    const q = new URLSearchParams({ type: sagaType, prefix: idPrefix, limit: '500', ...(cursor !== undefined ? { cursor } : {}) });
    // A tracker with access control (TRACKER_TOKEN) wants the token; metadata access is enough here.
    const token = process.env['TRACKER_TOKEN'];
    const res = await fetch(`${trackerUrl}/api/sagas?${q.toString()}`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
    if (!res.ok) throw new Error(`tracker answered ${res.status} to /api/sagas: ${await res.text()}`);
    const page = (await res.json()) as ListResponse;
    for (const s of page.items) {
      c.total += 1;
      if (s.stuck.stuck) c.stuck += 1;
      if (s.stuck.stuck && (s.stuck.overdueMs ?? 0) >= STUCK_GRACE_MS) c.stuckForGood += 1;
      if (s.status === 'compensated' && s.abort?.kind === 'timeout') c.timedOut += 1;
      if (
        s.status === 'running' ||
        s.status === 'compensating' ||
        s.status === 'completed' ||
        s.status === 'compensated' ||
        s.status === 'failed'
      ) {
        c[s.status] += 1;
      }
    }
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return c;
}

/** The outcome classes the summary compares, from the tracker's counts. */
export function trackerOutcomes(c: TrackerCounts): Record<ExpectedStatus, number> {
  return { completed: c.completed, compensated: c.compensated - c.timedOut, 'timed-out': c.timedOut, failed: c.failed, stuck: c.stuck };
}

/**
 * Every saga placed has reached an end, or has been stuck past {@link STUCK_GRACE_MS} (only a
 * person can end it; the summary then shows it as `stuck`).
 */
export function allSettled(c: TrackerCounts, placed: number): boolean {
  return c.total === placed && c.running + c.compensating === c.stuckForGood;
}

export function progressLine(placed: number, target: number | undefined, c: TrackerCounts): string {
  const inFlight = c.running + c.compensating - c.stuck;
  return [
    `placed ${placed}${target !== undefined ? `/${target}` : ''}`,
    `in flight ${inFlight}`,
    `completed ${c.completed}`,
    `compensated ${c.compensated - c.timedOut}`,
    `timed out ${c.timedOut}`,
    `failed ${c.failed}`,
    `stuck ${c.stuck}`,
  ].join(' | ');
}

/** One live line on a terminal; a line every few seconds in a log. */
export class LiveLine {
  private lastPrint = 0;
  constructor(private readonly out: NodeJS.WriteStream = process.stderr) {}

  update(text: string): void {
    if (this.out.isTTY) {
      this.out.write(`\r\x1b[2K${text}`);
    } else if (Date.now() - this.lastPrint >= 2000) {
      this.lastPrint = Date.now();
      this.out.write(`${text}\n`);
    }
  }

  done(text: string): void {
    this.out.write(this.out.isTTY ? `\r\x1b[2K${text}\n` : `${text}\n`);
  }
}
