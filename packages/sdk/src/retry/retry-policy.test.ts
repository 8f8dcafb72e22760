import { describe, expect, it } from 'vitest';
import { SdkError } from '../errors.js';
import { backoffDelay, isRetriable, retryPolicy } from './retry-policy.js';

describe('retry policy', () => {
  it('grows exponentially up to the cap, jitter only shortening', () => {
    const p = retryPolicy({ initialDelayMs: 100, multiplier: 3, maxDelayMs: 1000, jitter: 0.5 });
    expect([1, 2, 3, 4].map((n) => backoffDelay(p, n, () => 0))).toEqual([100, 300, 900, 1000]);
    expect(backoffDelay(p, 2, () => 1)).toBe(150);
  });

  it('refuses impossible settings with every problem named', () => {
    expect(() => retryPolicy({ attempts: 0, jitter: 2 })).toThrow(
      /attempts must be an integer >= 1.*jitter must be a number between 0 and 1/,
    );
  });

  it('treats errors that say retriable: false as final', () => {
    expect(isRetriable(new Error('x'))).toBe(true);
    expect(isRetriable(new SdkError('PAYLOAD_INVALID', 'bad'))).toBe(false);
    expect(isRetriable(new SdkError('TRANSPORT_ERROR', 'down'))).toBe(true);
  });
});
