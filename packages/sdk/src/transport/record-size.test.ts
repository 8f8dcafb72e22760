import { describe, expect, it } from 'vitest';
import { recordSize, recordSizeBound } from './record-size.js';
import type { OutboundRecord } from './transport.js';

const rec = (key: string | null, value: Buffer | null, headers: Record<string, string | Buffer>): OutboundRecord => ({
  topic: 't',
  key,
  value,
  headers,
});

describe('recordSizeBound', () => {
  it('is never below the exact size, whatever the characters', () => {
    const records = [
      rec(null, null, {}),
      rec('saga-1', Buffer.alloc(100), { ce_id: 'abc', ce_type: 'x.y.Z' }),
      rec('sagä-ü', Buffer.alloc(3), { ce_sourcé: 'ünïcödé', raw: Buffer.from([1, 2, 3]) }),
      rec('😀😀', null, { 日本: '語😀', e: '' }),
    ];
    for (const r of records) expect(recordSizeBound(r)).toBeGreaterThanOrEqual(recordSize(r));
  });

  it('equals the exact size plus twice the ASCII text: a cheap, close bound for ordinary records', () => {
    const r = rec('saga-1', Buffer.alloc(10), { ce_id: 'abc' });
    expect(recordSizeBound(r)).toBe(recordSize(r) + 2 * ('saga-1'.length + 'ce_id'.length + 'abc'.length));
  });
});
