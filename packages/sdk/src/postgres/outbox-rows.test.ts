import { describe, expect, it } from 'vitest';
import { recordOf, rowValues, shardOf, type OutboxRow } from './outbox-rows.js';
import { OUTBOX_SHARDS } from './schema-names.js';

describe('outbox rows', () => {
  it('round-trips a record: string and binary headers, key and value', () => {
    const record = {
      topic: 'orders',
      key: 'o-1',
      value: Buffer.from([0, 1, 2]),
      headers: { ce_id: 'e-1', ce_type: 'OrderPlaced', ce_sagaid: 'o-1', bin: Buffer.from([255, 0]) },
    };
    const values = rowValues(record);
    expect(values.slice(0, 6)).toEqual([shardOf('o-1'), 'o-1', 'e-1', 'OrderPlaced', 'orders', 'o-1']);
    const row: OutboxRow = {
      id: '1',
      topic: values[4] as string,
      key: values[5] as string,
      value: values[6] as Buffer,
      headers: JSON.parse(values[7] as string) as OutboxRow['headers'],
      created_at: new Date(),
    };
    expect(recordOf(row)).toEqual(record);
  });

  it('puts every event of a saga in the same shard, spread over all shards', () => {
    expect(shardOf('saga-42')).toBe(shardOf('saga-42'));
    const shards = new Set(Array.from({ length: 2000 }, (_, i) => shardOf(`saga-${i}`)));
    expect(shards.size).toBe(OUTBOX_SHARDS);
  });
});
