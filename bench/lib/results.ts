// Medians, ratios, the printed table and the result file of `npm run bench`.
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';

export const median = (values: readonly number[]): number => {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

/** Nearest-rank percentile. */
export const percentile = (values: readonly number[], p: number): number => {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.max(0, Math.ceil(p * s.length) - 1)] ?? Number.NaN;
};

export interface Series {
  /** What was measured, e.g. 'events/s'. */
  readonly unit: string;
  readonly rounds: number[];
  readonly median: number;
}

export const series = (unit: string, rounds: number[]): Series => ({ unit, rounds, median: median(rounds) });

/** a/b of two medians, rounded to 2 decimals; null when either side was not measured. */
export function ratio(all: Readonly<Record<string, Series>>, a: string, b: string): number | null {
  const x = all[a]?.median;
  const y = all[b]?.median;
  if (x === undefined || y === undefined || !Number.isFinite(x) || !Number.isFinite(y) || y === 0) return null;
  return Math.round((x / y) * 100) / 100;
}

export interface Machine {
  readonly cpus: number;
  readonly cpuModel: string;
  readonly memoryGiB: number;
  readonly loadAverage: readonly number[];
}

export const machine = (): Machine => ({
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model ?? 'unknown',
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  loadAverage: loadavg().map((l) => Math.round(l * 100) / 100),
});

export function formatTable(all: Readonly<Record<string, Series>>): string {
  const rows = Object.entries(all).map(([name, s]) => [
    name,
    s.median.toFixed(s.median < 100 ? 1 : 0),
    s.unit,
    s.rounds.map((r) => r.toFixed(r < 100 ? 1 : 0)).join(' / '),
  ]);
  const head = ['contender', 'median', 'unit', 'rounds'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    `| ${cells.map((c, i) => (i === 1 ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0))).join(' | ')} |`;
  return [
    line(head),
    `|${widths.map((w, i) => (i === 1 ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`,
    ...rows.map(line),
  ].join('\n');
}

/** Writes `result` as `<dir>/<date>-<mode>.json` and `<dir>/latest-<mode>.json`; returns the dated path. */
export async function writeResult(dir: string, result: { readonly date: string; readonly mode: string }): Promise<string> {
  await mkdir(dir, { recursive: true });
  const text = `${JSON.stringify(result, null, 2)}\n`;
  const file = join(dir, `${result.date.replace(/[:.]/g, '-')}-${result.mode}.json`);
  await writeFile(file, text);
  await writeFile(join(dir, `latest-${result.mode}.json`), text);
  return file;
}
