import { describe, expect, it } from 'vitest';
import { RateLimiter } from './rate-limiter.js';

describe('RateLimiter', () => {
  it('lets a burst through at once, then spaces reservations at the rate', () => {
    const r = new RateLimiter(10, 2, 0);
    expect([r.reserve(0), r.reserve(0), r.reserve(0), r.reserve(0)]).toEqual([0, 0, 100, 200]);
    // A quiet second refills the bucket up to the burst only.
    expect([r.reserve(1300), r.reserve(1300), r.reserve(1300)]).toEqual([0, 0, 100]);
  });
});
