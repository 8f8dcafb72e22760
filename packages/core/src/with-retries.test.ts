import { describe, expect, it } from 'vitest';
import { withRetries } from './with-retries.js';

describe('withRetries', () => {
  it('returns the first success and how many calls it took', async () => {
    let calls = 0;
    const r = await withRetries(
      () => {
        calls += 1;
        return calls < 3 ? Promise.reject(new Error(`boom ${calls}`)) : Promise.resolve('done');
      },
      { attempts: 5, delayMs: () => 0 },
    );
    expect(r).toEqual({ ok: true, value: 'done', attempts: 3 });
  });

  it('stops at the attempt limit and returns the last error instead of throwing it', async () => {
    const seen: number[] = [];
    const r = await withRetries((n) => Promise.reject(new Error(`boom ${n}`)), {
      attempts: 3,
      delayMs: () => 0,
      onRetry: (_e, n) => void seen.push(n),
    });
    expect(r.ok).toBe(false);
    expect(r.attempts).toBe(3);
    expect(!r.ok && (r.error as Error).message).toBe('boom 3');
    expect(seen).toEqual([1, 2]);
  });

  it('stops at once for an error not worth retrying', async () => {
    const r = await withRetries(() => Promise.reject(new Error('fatal')), {
      attempts: 9,
      delayMs: () => 0,
      retryOn: (e) => (e as Error).message !== 'fatal',
    });
    expect(r).toMatchObject({ ok: false, attempts: 1 });
  });
});
