import type { ExpectedStatus } from './world.js';

/** The tracker's view of the run, from `GET /api/stats`. */
export interface TrackerCounts {
  readonly total: number;
  readonly running: number;
  readonly compensating: number;
  readonly completed: number;
  readonly compensated: number;
  readonly failed: number;
  readonly stuck: number;
}

interface StatsResponse {
  types: { sagaType: string; total: number; stuck: number; byStatus: Record<string, number> }[];
}

export async function fetchCounts(trackerUrl: string, sagaType: string): Promise<TrackerCounts> {
  const res = await fetch(`${trackerUrl}/api/stats?type=${encodeURIComponent(sagaType)}`);
  if (!res.ok) throw new Error(`tracker answered ${res.status} to /api/stats: ${await res.text()}`);
  const body = (await res.json()) as StatsResponse;
  const t = body.types.find((x) => x.sagaType === sagaType);
  const s = (k: string): number => t?.byStatus[k] ?? 0;
  return {
    total: t?.total ?? 0,
    running: s('running'),
    compensating: s('compensating'),
    completed: s('completed'),
    compensated: s('compensated'),
    failed: s('failed'),
    stuck: t?.stuck ?? 0,
  };
}

/** The outcome classes the summary compares, from the tracker's counts. */
export function trackerOutcomes(c: TrackerCounts): Record<ExpectedStatus, number> {
  return { completed: c.completed, compensated: c.compensated, failed: c.failed, stuck: c.stuck };
}

/** Every saga placed has reached an end (or is reported stuck, which only a person can end). */
export function allSettled(c: TrackerCounts, placed: number): boolean {
  return c.total === placed && c.running + c.compensating === c.stuck;
}

export function progressLine(placed: number, target: number | undefined, c: TrackerCounts): string {
  const inFlight = c.running + c.compensating - c.stuck;
  return [
    `placed ${placed}${target !== undefined ? `/${target}` : ''}`,
    `in flight ${inFlight}`,
    `completed ${c.completed}`,
    `compensated ${c.compensated}`,
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
