const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

/** The duration syntax of saga contracts: a whole number and one unit, e.g. `250ms`, `30s`, `5m`, `1h`. */
export const DURATION_PATTERN = '^[0-9]+(ms|s|m|h)$';

/** Milliseconds of a contract duration, or `undefined` when the text is not one. */
export function parseDuration(text: string): number | undefined {
  const m = /^([0-9]+)(ms|s|m|h)$/.exec(text);
  if (m === null) return undefined;
  return Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
}

/** The shortest exact contract spelling of a duration in ms (`300000` → `5m`). */
export function formatDuration(ms: number): string {
  if (ms > 0 && ms % UNIT_MS.h === 0) return `${ms / UNIT_MS.h}h`;
  if (ms > 0 && ms % UNIT_MS.m === 0) return `${ms / UNIT_MS.m}m`;
  if (ms > 0 && ms % UNIT_MS.s === 0) return `${ms / UNIT_MS.s}s`;
  return `${ms}ms`;
}
