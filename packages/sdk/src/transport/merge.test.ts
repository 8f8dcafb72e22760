import { describe, expect, it } from 'vitest';
import { mergeBatch, type MergeSource, type QueuedRecord } from './merge.js';

const rec = (topic: string, offset: number, ts: number): QueuedRecord => ({
  message: {
    topic,
    partition: 0,
    offset: String(offset),
    key: null,
    value: Buffer.from(`${topic}${offset}`),
    headers: {},
    timestamp: String(ts),
  },
  ts,
  offset: BigInt(offset),
  bytes: 10,
});
const source = (topic: string, rank: number, records: QueuedRecord[], more: Partial<MergeSource> = {}): MergeSource => ({
  topic,
  rank,
  records,
  caughtUpAsOf: Number.POSITIVE_INFINITY,
  waitedEnough: false,
  ...more,
});
const names = (b: { records: readonly QueuedRecord[] }): string[] => b.records.map((r) => r.message.value?.toString() ?? '');

describe('mergeBatch', () => {
  it('interleaves topics by timestamp, ties by topic rank, up to the batch size', () => {
    const b = mergeBatch(
      [source('a', 0, [rec('a', 0, 10), rec('a', 1, 30)]), source('b', 1, [rec('b', 0, 10), rec('b', 1, 20), rec('b', 2, 40)])],
      4,
    );
    expect(names(b)).toEqual(['a0', 'b0', 'b1', 'a1']);
    expect(b.blockedBy).toEqual([]);
  });

  it('stops before a record that an empty, possibly lagging partition may precede', () => {
    const lagging = source('b', 1, [], { caughtUpAsOf: 15 });
    const b = mergeBatch([source('a', 0, [rec('a', 0, 10), rec('a', 1, 20)]), lagging], 10);
    expect(names(b)).toEqual(['a0']);
    expect(b.blockedBy.map((s) => s.topic)).toEqual(['b']);
    expect(b.blockedAt).toBe(20);
  });

  it('goes on without a partition once it was waited for long enough', () => {
    const b = mergeBatch([source('a', 0, [rec('a', 0, 10)]), source('b', 1, [], { caughtUpAsOf: 0, waitedEnough: true })], 10);
    expect(names(b)).toEqual(['a0']);
  });

  it('a queue drained within the batch holds up later records too', () => {
    const b = mergeBatch([source('a', 0, [rec('a', 0, 10), rec('a', 1, 50)]), source('b', 1, [rec('b', 0, 20)], { caughtUpAsOf: 30 })], 10);
    expect(names(b)).toEqual(['a0', 'b0']);
    expect(b.blockedAt).toBe(50);
  });
});
