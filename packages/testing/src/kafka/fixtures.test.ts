import { describe, expect, it } from 'vitest';
import { TestingError } from './errors.js';
import { uniqueGroup, uniqueTopic, waitFor, waitForValue } from './fixtures.js';

describe('unique names', () => {
  it('never repeat and are valid topic names', () => {
    const names = new Set(Array.from({ length: 200 }, () => uniqueTopic('orders')));
    expect(names.size).toBe(200);
    for (const name of names) expect(name).toMatch(/^orders-[a-z0-9]+-[0-9a-f]{8}$/);
    expect(uniqueGroup()).toMatch(/^test-group-/);
  });
});

describe('waitFor', () => {
  it('resolves once the predicate holds', async () => {
    let calls = 0;
    await waitFor(() => ++calls === 3, { intervalMs: 1 });
    expect(calls).toBe(3);
  });

  it('resolves the first defined value, retrying through errors', async () => {
    let calls = 0;
    const value = await waitForValue(
      () => {
        calls += 1;
        if (calls === 1) throw new Error('not yet');
        return calls === 3 ? 'ready' : undefined;
      },
      { intervalMs: 1 },
    );
    expect(value).toBe('ready');
  });

  it('times out with WAIT_TIMEOUT naming what it waited for and the last error', async () => {
    const error = await waitForValue(
      () => {
        throw new Error('broker said no');
      },
      { timeoutMs: 20, intervalMs: 5, description: 'the moon' },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TestingError);
    expect((error as TestingError).code).toBe('WAIT_TIMEOUT');
    expect((error as TestingError).message).toMatch(/the moon.*broker said no/);
  });
});
