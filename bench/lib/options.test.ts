import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { GROUPS, STEP_CONTENDERS, parseBenchArgs } from './options.js';
import { formatTable, median, percentile, ratio, series, writeResult } from './results.js';

describe('parseBenchArgs', () => {
  it('runs every group and contender, 3 rounds, full sizes by default', () => {
    const o = parseBenchArgs([], '/r');
    expect(o).toMatchObject({
      quick: false,
      rounds: 3,
      events: 50_000,
      streamsEvents: 200_000,
      partitions: 6,
      resultsDir: '/r',
      profileDir: undefined,
    });
    expect(o.groups).toEqual(GROUPS);
    expect(o.contenders).toEqual(STEP_CONTENDERS);
    expect(o.contendersChosen).toBe(false);
  });

  it('--quick shrinks the sizes and skips the 200k Kafka Streams comparison, still 3 rounds', () => {
    const o = parseBenchArgs(['--quick'], '/r');
    expect(o).toMatchObject({ quick: true, rounds: 3, events: 5_000, streamsEvents: 0, sagaRounds: 1 });
  });

  it('takes explicit lists and numbers', () => {
    const o = parseBenchArgs(
      [
        '--only',
        'step,tracker',
        '--contenders',
        'raw-alo,troupe-eos',
        '--events',
        '2000',
        '--rounds',
        '1',
        '--profile',
        '/p',
        '--results',
        '/x',
      ],
      '/r',
    );
    expect(o).toMatchObject({
      groups: ['step', 'tracker'],
      contenders: ['raw-alo', 'troupe-eos'],
      contendersChosen: true,
      events: 2000,
      rounds: 1,
      profileDir: '/p',
      resultsDir: '/x',
    });
  });

  it('refuses unknown names, bad numbers and unknown flags with the usage', () => {
    expect(() => parseBenchArgs(['--only', 'step,nope'], '/r')).toThrow(/unknown 'nope'.*usage: npm run bench/s);
    expect(() => parseBenchArgs(['--rounds', '0'], '/r')).toThrow(/--rounds expects an integer >= 1/);
    expect(() => parseBenchArgs(['--events', '1.5'], '/r')).toThrow(/--events expects an integer/);
    expect(() => parseBenchArgs(['--fast'], '/r')).toThrow(/fast/);
  });
});

describe('results', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('medians, percentiles and ratios of medians', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
    expect(percentile([5, 1, 4, 2, 3], 0.99)).toBe(5);
    expect(percentile([5, 1, 4, 2, 3], 0.5)).toBe(3);
    const all = { a: series('events/s', [900, 1000, 1100]), b: series('events/s', [2000, 1900, 2100]) };
    expect(ratio(all, 'a', 'b')).toBe(0.5);
    expect(ratio(all, 'a', 'missing')).toBeNull();
    expect(formatTable(all).split('\n')).toHaveLength(4);
  });

  it('writes the result as a dated file and as latest-<mode>.json', async () => {
    dir = await mkdtemp(join(tmpdir(), 'bench-results-'));
    const result = { mode: 'quick', date: '2026-11-30T23:00:00.000Z', ratios: { sdkVsRaw: 0.9 } };
    const file = await writeResult(join(dir, 'nested'), result);
    expect(file).toBe(join(dir, 'nested', '2026-11-30T23-00-00-000Z-quick.json'));
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual(result);
    expect(JSON.parse(await readFile(join(dir, 'nested', 'latest-quick.json'), 'utf8'))).toEqual(result);
  });
});
