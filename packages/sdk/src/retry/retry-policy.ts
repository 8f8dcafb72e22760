import { SdkError } from '../errors.js';

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

export function retryPolicy(opts: RetryOptions = {}): RetryPolicy {
  const p: RetryPolicy = {
    attempts: opts.attempts ?? 3,
    initialDelayMs: opts.initialDelayMs ?? 100,
    maxDelayMs: opts.maxDelayMs ?? 5000,
    multiplier: opts.multiplier ?? 2,
    jitter: opts.jitter ?? 0.2,
  };
  const problems: string[] = [];
  if (!Number.isInteger(p.attempts) || p.attempts < 1) problems.push(`attempts must be an integer >= 1 (got ${p.attempts})`);
  if (!(p.initialDelayMs >= 0)) problems.push(`initialDelayMs must be >= 0 (got ${p.initialDelayMs})`);
  if (!(p.maxDelayMs >= p.initialDelayMs)) problems.push(`maxDelayMs must be >= initialDelayMs (got ${p.maxDelayMs})`);
  if (!(p.multiplier >= 1)) problems.push(`multiplier must be >= 1 (got ${p.multiplier})`);
  if (!(p.jitter >= 0 && p.jitter <= 1)) problems.push(`jitter must be between 0 and 1 (got ${p.jitter})`);
  if (problems.length > 0) throw new SdkError('CONFIG_INVALID', `retry options: ${problems.join('; ')}`);
  return p;
}

/** Delay after the `failures`-th failed attempt: exponential, capped, with jitter taken off the top. */
export function backoffDelay(policy: RetryPolicy, failures: number, random: () => number = Math.random): number {
  const base = Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.multiplier ** Math.max(0, failures - 1));
  return Math.round(base * (1 - policy.jitter * random()));
}

/** Errors that declare `retriable: false` (e.g. an invalid payload) are not worth another attempt. */
export function isRetriable(err: unknown): boolean {
  if (typeof err === 'object' && err !== null && 'retriable' in err) return (err).retriable !== false;
  return true;
}
