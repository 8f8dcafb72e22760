import { describe, expect, it } from 'vitest';
import { AttemptAbort } from './attempt-abort.js';

describe('AttemptAbort', () => {
  it('aborts a signal read before the deadline, with the reason', () => {
    const abort = new AttemptAbort();
    const signal = abort.signal;
    expect(signal.aborted).toBe(false);
    const reason = new Error('deadline');
    abort.abort(reason);
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBe(reason);
  });

  it('hands out an already aborted signal, with the reason, when first read after the deadline', () => {
    const abort = new AttemptAbort();
    const reason = new Error('deadline');
    abort.abort(reason);
    expect(abort.signal.aborted).toBe(true);
    expect(abort.signal.reason).toBe(reason);
  });

  it('hands out the same signal on every read and keeps the first reason', () => {
    const abort = new AttemptAbort();
    const signal = abort.signal;
    abort.abort('first');
    abort.abort('second');
    expect(abort.signal).toBe(signal);
    expect(signal.reason).toBe('first');
  });
});
