import { describe, expect, it } from 'vitest';
import { derivedEventId } from './event-context.js';

describe('derivedEventId', () => {
  it('is the id earlier versions derived for the same parts, so a redelivery across an upgrade keeps its ce_id', () => {
    // Value computed with the former createHash('sha256') implementation.
    expect(derivedEventId(['grp', 'e-1', 'on:x', '0'])).toBe('2fdfc551-b31a-528e-98bd-a1667c81eaf3');
  });

  it('is shaped as a UUID and differs per emit position', () => {
    const a = derivedEventId(['grp', 'e-1', 'on:x', '0']);
    const b = derivedEventId(['grp', 'e-1', 'on:x', '1']);
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(b).not.toBe(a);
  });
});
