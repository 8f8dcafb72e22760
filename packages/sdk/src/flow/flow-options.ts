import type { OptionChecks } from '@troupe/core';

/**
 * When a handler's (or a named downstream's) circuit breaker opens, how long it stays open, and
 * how it closes again. See docs/participants.md "Bulkheads, circuit breakers, rate limits".
 */
export interface CircuitBreakerOptions {
  /**
   * Opens after this many transient failures in a row (attempts that threw a retriable error or
   * timed out; a success resets the count). At most `retry.attempts`, so that even an event
   * handled alone opens the breaker before its in-place retries are used up.
   * @default 3
   */
  readonly consecutiveFailures?: number;
  /**
   * Also opens when at least this share (0..1] of the attempts in the last `windowMs` failed
   * transiently, once the window holds `minimumAttempts`.
   * @default 0.5
   */
  readonly failureRate?: number;
  /** @default 10_000 */
  readonly windowMs?: number;
  /** @default 20 */
  readonly minimumAttempts?: number;
  /**
   * How long the breaker stays open before one probe attempt is let through (half-open). A probe
   * that succeeds closes it; one that fails opens it again for as long.
   * @default 5_000
   */
  readonly openMs?: number;
}

/** A rate limit for a downstream with a quota. */
export interface RateLimitOptions {
  /** Attempts started per second, at most (over time). */
  readonly perSecond: number;
  /**
   * Attempts that may start at once after a quiet period.
   * @default perSecond, at least 1
   */
  readonly burst?: number;
}

/**
 * Flow-control settings of one handler (`on(type, handle, options)`, `step({ ..., options })`).
 * Settings with the same `downstream` name share one bulkhead, breaker and rate limit.
 */
export interface HandlerFlowOptions {
  /**
   * Deadline of one attempt of the handler (and of a step's `compensate`).
   * @default the participant's `handlerTimeoutMs`
   */
  readonly timeoutMs?: number;
  /**
   * Bulkhead: attempts of this handler (or of its `downstream`) running at the same time in this
   * participant, across all partitions and sagas.
   * @default the participant's `handlerConcurrency`
   */
  readonly concurrency?: number;
  /**
   * Circuit breaker of this handler (or of its `downstream`); `false` turns off the participant's
   * default breaker for it.
   * @default the participant's `circuitBreaker` (off unless given)
   */
  readonly circuitBreaker?: CircuitBreakerOptions | false;
  /** @default no limit */
  readonly rateLimit?: RateLimitOptions;
  /**
   * What an event does when the bulkhead has no free permit within {@link OVERFLOW_AFTER_MS}:
   * `wait` (for a permit; the events after it in the partition wait too), or `retry-topic`: it
   * moves to the participant's retry topic (its saga's later events queue behind it there, as for a
   * failed event) and the partition goes on, so a slow handler's backlog no longer holds up the
   * other handlers' events. Needs `retryTopic`.
   * @default 'wait'
   */
  readonly overflow?: 'wait' | 'retry-topic';
  /**
   * Name of the downstream the handler calls: handlers naming the same one share its bulkhead,
   * breaker and rate limit, and it names the breaker in metrics and health.
   * @default the handler's label (`step:<name>`, `on:<event type>`, `compensate:<step>`)
   */
  readonly downstream?: string;
}

export type CircuitBreakerSettings = Required<CircuitBreakerOptions>;

/** A participant's flow-control defaults, applied. */
export interface FlowDefaults {
  readonly sagaConcurrency: number;
  readonly handlerConcurrency: number;
  readonly circuitBreaker: CircuitBreakerSettings | undefined;
  /** In-place attempts per event (`retry.attempts`): a breaker must open within them. */
  readonly retryAttempts: number;
  /** Whether the participant has a retry topic (`overflow: 'retry-topic'` needs one). */
  readonly retryTopic: boolean;
}

export const DEFAULT_SAGA_CONCURRENCY = 8;
/** How long an attempt of a handler with `overflow: 'retry-topic'` waits for a bulkhead permit. */
export const OVERFLOW_AFTER_MS = 100;
export const DEFAULT_HANDLER_CONCURRENCY = 16;

/** Breaker options with their defaults; problems go to `check` under `name`. */
export function circuitBreakerSettings(name: string, o: CircuitBreakerOptions, check: OptionChecks): CircuitBreakerSettings {
  return {
    consecutiveFailures: check.int(`${name}.consecutiveFailures`, o.consecutiveFailures ?? 3),
    failureRate: check.number(`${name}.failureRate`, o.failureRate ?? 0.5, { min: 0.01, max: 1 }),
    windowMs: check.int(`${name}.windowMs`, o.windowMs ?? 10_000),
    minimumAttempts: check.int(`${name}.minimumAttempts`, o.minimumAttempts ?? 20),
    openMs: check.int(`${name}.openMs`, o.openMs ?? 5_000),
  };
}
