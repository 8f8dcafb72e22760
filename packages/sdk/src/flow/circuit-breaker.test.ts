import { describe, expect, it } from 'vitest';
import { Semaphore } from '../util/semaphore.js';
import { CircuitBreaker, type CircuitTransition } from './circuit-breaker.js';
import { HandlerGuard } from './flow-control.js';

const settings = { consecutiveFailures: 3, failureRate: 0.5, windowMs: 10_000, minimumAttempts: 10, openMs: 1000 };

describe('CircuitBreaker', () => {
  it('opens after consecutive transient failures; a success in between resets the count', () => {
    const b = new CircuitBreaker('pay', settings);
    b.failed(0, false, 'down');
    b.failed(1, false, 'down');
    b.succeeded(2, false);
    b.failed(3, false, 'down');
    b.failed(4, false, 'down');
    expect(b.state).toBe('closed');
    b.failed(5, false, 'down');
    expect(b.state).toBe('open');
    expect(b.reason).toContain('3 transient failures in a row');
    expect(b.admit(6)).toEqual({ allowed: false, until: 1005 });
  });

  it('opens on the failure rate over the window once it holds the minimum attempts', () => {
    const b = new CircuitBreaker('pay', { ...settings, consecutiveFailures: 100 });
    for (let i = 0; i < 9; i++) {
      if (i % 2 === 0) b.failed(i, false, 'down');
      else b.succeeded(i, false);
    }
    expect(b.state).toBe('closed');
    b.failed(9, false, 'down');
    expect(b.state).toBe('open');
    expect(b.reason).toContain('6 of 10 attempts');
  });

  it('lets one probe through after openMs; the probe closes it on success', () => {
    const transitions: CircuitTransition[] = [];
    const b = new CircuitBreaker('pay', settings, (t) => transitions.push(t));
    for (let i = 0; i < 3; i++) b.failed(0, false, 'down');
    expect(b.admit(999).allowed).toBe(false);
    expect(b.admit(1000)).toEqual({ allowed: true, probe: true });
    expect(b.state).toBe('half-open');
    // Only one probe at a time.
    expect(b.admit(1001).allowed).toBe(false);
    b.succeeded(1002, true);
    expect(b.state).toBe('closed');
    expect(b.admit(1003)).toEqual({ allowed: true, probe: false });
    expect(transitions.map((t) => t.to)).toEqual(['open', 'half-open', 'closed']);
  });

  it('opens again for openMs when the probe fails; an abandoned probe lets another one try', () => {
    const b = new CircuitBreaker('pay', settings);
    for (let i = 0; i < 3; i++) b.failed(0, false, 'down');
    expect(b.admit(1000).allowed).toBe(true);
    b.failed(1100, true, 'still down');
    expect(b.state).toBe('open');
    expect(b.admit(2000).allowed).toBe(false);
    expect(b.admit(2100)).toEqual({ allowed: true, probe: true });
    b.abandoned(true);
    expect(b.admit(2101)).toEqual({ allowed: true, probe: true });
  });

  it('an attempt the open breaker refused waits, also when the breaker closed again meanwhile (never given up)', async () => {
    const breaker = new CircuitBreaker('pay', { ...settings, openMs: 50 });
    const guard = new HandlerGuard('pay', new Semaphore(1), breaker, undefined);
    for (let i = 0; i < 3; i++) breaker.failed(Date.now(), false, 'down');
    const refused = await guard
      .attempt(
        () => Promise.resolve('ran'),
        () => true,
      )
      .catch((err: unknown) => err);
    expect(refused).toMatchObject({ code: 'CIRCUIT_OPEN' });
    expect(guard.mayRetry(refused)).toBe(false);
    expect(guard.paused(refused, true)?.reason).toMatch(/^circuit pay is open/);
    // Another event's probe closes it before the refused one is looked at again.
    await new Promise((r) => setTimeout(r, 60));
    expect(
      await guard.attempt(
        () => Promise.resolve('ran'),
        () => true,
      ),
    ).toBe('ran');
    expect(breaker.state).toBe('closed');
    expect(guard.paused(refused, true)).toMatchObject({ reason: 'circuit pay closed again' });
    expect(guard.paused(new Error('bug'), false)).toBeUndefined();
  });
});
