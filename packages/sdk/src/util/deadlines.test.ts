import { afterEach, describe, expect, it, vi } from 'vitest';
import { Deadlines } from './deadlines.js';

const timersHeld = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

describe('Deadlines', () => {
  afterEach(() => vi.useRealTimers());

  it('expires each deadline once its length has passed, in start order, and never a cancelled one', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const d = new Deadlines();
    const expired: string[] = [];
    const cancelA = d.start(100, () => expired.push('a'));
    vi.advanceTimersByTime(30);
    d.start(100, () => expired.push('b'));
    const cancelC = d.start(100, () => expired.push('c'));
    d.start(50, () => expired.push('short'));
    cancelA();
    vi.advanceTimersByTime(69);
    expect(expired).toEqual(['short']);
    cancelC();
    // b started at 30: due at 130.
    vi.advanceTimersByTime(30);
    expect(expired).toEqual(['short']);
    vi.advanceTimersByTime(1);
    expect(expired).toEqual(['short', 'b']);
    vi.advanceTimersByTime(1000);
    expect(expired).toEqual(['short', 'b']);
    // Cancelling after the expiry changes nothing.
    cancelA();
    cancelC();
  });

  it('a deadline started while others expire gets its full length', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const d = new Deadlines();
    const expired: string[] = [];
    d.start(100, () => {
      expired.push('first');
      d.start(100, () => expired.push('again'));
    });
    d.start(100, () => expired.push('second'));
    vi.advanceTimersByTime(100);
    expect(expired).toEqual(['first', 'second']);
    vi.advanceTimersByTime(99);
    expect(expired).toEqual(['first', 'second']);
    vi.advanceTimersByTime(1);
    expect(expired).toEqual(['first', 'second', 'again']);
  });

  it('holds the process open only while a deadline is pending', async () => {
    const d = new Deadlines();
    const before = timersHeld();
    const cancel = d.start(60_000, () => undefined);
    const cancel2 = d.start(60_000, () => undefined);
    expect(timersHeld()).toBe(before + 1);
    cancel();
    expect(timersHeld()).toBe(before + 1);
    cancel2();
    expect(timersHeld()).toBe(before);
    const cancel3 = d.start(60_000, () => undefined);
    expect(timersHeld()).toBe(before + 1);
    cancel3();
    expect(timersHeld()).toBe(before);
    // A real expiry, without fake time.
    await new Promise<void>((resolve) => d.start(5, resolve));
    expect(timersHeld()).toBe(before);
  });

  it('lengths setTimeout would not take as given go to setTimeout as they are', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const d = new Deadlines();
    const expired: number[] = [];
    d.start(0, () => expired.push(0));
    const cancel = d.start(0, () => expired.push(1));
    cancel();
    vi.advanceTimersByTime(1);
    expect(expired).toEqual([0]);
  });
});
