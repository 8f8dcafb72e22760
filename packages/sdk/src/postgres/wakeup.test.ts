import { describe, expect, it } from 'vitest';
import { Wakeup } from './wakeup.js';

describe('Wakeup', () => {
  it('a signal ends a sleep early', async () => {
    const w = new Wakeup();
    const slept = w.sleep(60_000).then(() => 'woken');
    w.signal();
    expect(await slept).toBe('woken');
  });

  it('a signal while nobody sleeps makes the next sleep return at once, once', async () => {
    const w = new Wakeup();
    w.signal();
    await w.sleep(60_000);
    let done = false;
    const second = w.sleep(20).then(() => (done = true));
    expect(done).toBe(false);
    await second;
  });
});
