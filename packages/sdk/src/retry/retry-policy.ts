import { throwIfInvalid } from '../errors.js';
import { OptionChecks } from '@troupe/core';

/** In-place retries of a failing handler, before the participant gives up on the event. */
export interface RetryOptions {
  /**
   * Handler attempts per event in total (1 = no retry).
   * @default 3
   */
  readonly attempts?: number;
  /**
   * Delay before the second attempt.
   * @default 100
   */
  readonly initialDelayMs?: number;
  /**
   * Upper bound of one delay.
   * @default 5000
   */
  readonly maxDelayMs?: number;
  /**
   * Growth of the delay per attempt.
   * @default 2
   */
  readonly multiplier?: number;
  /**
   * Random share of each delay (0..1) so that instances that failed together do not retry together.
   * @default 0.2
   */
  readonly jitter?: number;
}

export type RetryPolicy = Required<RetryOptions>;

/**
 * The retry options with their defaults. Problems go to `check` when given (the caller reports
 * them with its own); otherwise they are thrown as CONFIG_INVALID.
 */
export function retryPolicy(opts: RetryOptions = {}, check?: OptionChecks): RetryPolicy {
  const c = check ?? new OptionChecks();
  const initialDelayMs = c.number('initialDelayMs', opts.initialDelayMs ?? 100);
  const p: RetryPolicy = {
    attempts: c.int('attempts', opts.attempts ?? 3),
    initialDelayMs,
    maxDelayMs: c.number('maxDelayMs', opts.maxDelayMs ?? 5000, { min: initialDelayMs }),
    multiplier: c.number('multiplier', opts.multiplier ?? 2, { min: 1 }),
    jitter: c.number('jitter', opts.jitter ?? 0.2, { min: 0, max: 1 }),
  };
  if (!check) throwIfInvalid(c, 'retry options');
  return p;
}

/** Delay after the `failures`-th failed attempt: exponential, capped, with jitter taken off the top. */
export function backoffDelay(policy: RetryPolicy, failures: number, random: () => number = Math.random): number {
  const base = Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.multiplier ** Math.max(0, failures - 1));
  return Math.round(base * (1 - policy.jitter * random()));
}

/** Errors that declare `retriable: false` (e.g. an invalid payload) are not worth another attempt. */
export function isRetriable(err: unknown): boolean {
  if (typeof err === 'object' && err !== null && 'retriable' in err) return err.retriable !== false;
  return true;
}
