import { OptionChecks } from '@troupe/core';
import type { Gauge } from 'prom-client';
import type { Logger } from 'pino';
import { describeError, SdkError, throwIfInvalid } from '../errors.js';
import { Semaphore } from '../util/semaphore.js';
import { CIRCUIT_STATE_VALUE, CircuitBreaker, type CircuitState } from './circuit-breaker.js';
import { circuitBreakerSettings, type FlowDefaults, type HandlerFlowOptions } from './flow-options.js';
import { RateLimiter } from './rate-limiter.js';
import { systemClock, type Clock } from '../timers/clock.js';

/** A circuit that is not closed, as health checks report it. */
export interface CircuitReport {
  readonly name: string;
  readonly state: CircuitState;
  /** When it opened (ms since the epoch). */
  readonly since: number;
  readonly reason: string;
}

/** Why an event waits instead of running its handler: a breaker is open. */
export interface Paused {
  readonly until: number;
  readonly reason: string;
}

const UNGUARDED = { allowed: true, probe: false } as const;
const isCircuitOpen = (err: unknown): boolean => err instanceof SdkError && err.code === 'CIRCUIT_OPEN';
/** The attempt did not run: the bulkhead stayed full and the handler overflows to the retry topic. */
export const isBulkheadFull = (err: unknown): boolean => err instanceof SdkError && err.code === 'BULKHEAD_FULL';

/**
 * One handler's (or named downstream's) bulkhead, circuit breaker and rate limit. Each attempt
 * passes the breaker, then the rate limit, then takes a bulkhead permit for the time it runs (not
 * for back-off waits between attempts).
 */
export class HandlerGuard {
  constructor(
    readonly name: string,
    private readonly bulkhead: Semaphore,
    private readonly breaker: CircuitBreaker | undefined,
    private readonly limiter: RateLimiter | undefined,
  ) {}

  // The transport's clock, so virtual time (SagaHarness.advance) moves breakers and rate limits too.
  private clock: Clock = systemClock;

  /** Reads time from `clock` instead of the wall clock. */
  on(clock: Clock): this {
    this.clock = clock;
    return this;
  }

  /**
   * Runs one attempt. Throws CIRCUIT_OPEN without running it while the breaker is open;
   * `isOutage` says which failures count against the breaker (transient ones).
   */
  async attempt<T>(fn: () => Promise<T>, isOutage: (err: unknown) => boolean, overflowAfterMs?: number): Promise<T> {
    const admission = this.breaker?.admit(this.clock.now()) ?? UNGUARDED;
    if (!admission.allowed) {
      throw new SdkError('CIRCUIT_OPEN', `circuit ${this.name} is open (${this.breaker?.reason ?? ''}); the event waits for it to close`);
    }
    const wait = this.limiter?.reserve(this.clock.now()) ?? 0;
    if (wait > 0) await new Promise<void>((resolve) => this.clock.setTimer(wait, resolve));
    // A free permit is taken without a promise round trip (the common case).
    const release =
      this.bulkhead.tryAcquire() ??
      (overflowAfterMs === undefined ? await this.bulkhead.acquire() : await this.bulkhead.acquireWithin(overflowAfterMs));
    if (!release) {
      this.breaker?.abandoned(admission.probe);
      throw new SdkError(
        'BULKHEAD_FULL',
        `bulkhead ${this.name} stayed full for ${overflowAfterMs} ms; the event moves to the retry topic`,
      );
    }
    try {
      const value = await fn();
      this.breaker?.succeeded(this.clock.now(), admission.probe);
      return value;
    } catch (err) {
      if (isOutage(err)) this.breaker?.failed(this.clock.now(), admission.probe, describeError(err));
      else this.breaker?.abandoned(admission.probe);
      throw err;
    } finally {
      release();
    }
  }

  /** Another attempt is worth it only while the breaker lets attempts through. */
  mayRetry(err: unknown): boolean {
    return !isCircuitOpen(err) && !isBulkheadFull(err) && this.breaker?.blockedUntil(this.clock.now()) === undefined;
  }

  /**
   * When the last attempt's failure is the breaker's business (it refused the attempt, or the
   * failure was transient and the breaker is open now): the event waits instead of failing.
   */
  paused(err: unknown, transient: boolean): Paused | undefined {
    const refused = isCircuitOpen(err);
    if (!this.breaker || !(refused || transient)) return undefined;
    const now = this.clock.now();
    const until = this.breaker.blockedUntil(now);
    // Refused, and closed again since (another event's probe succeeded): try again at once, never give up.
    if (until === undefined) return refused ? { until: now + 1, reason: `circuit ${this.name} closed again` } : undefined;
    return { until, reason: `circuit ${this.name} is ${this.breaker.state}: ${this.breaker.reason}` };
  }
}

export interface FlowControlDeps {
  readonly participant: string;
  readonly defaults: FlowDefaults;
  readonly circuitState: Gauge<'participant' | 'circuit'>;
  readonly logger: Logger;
  /** @default the wall clock */
  readonly clock?: Clock;
}

/** The bulkheads, breakers and rate limits of one participant, made on first use per handler or downstream. */
export class FlowControl {
  private readonly guards = new Map<string, HandlerGuard>();
  private readonly breakers = new Map<string, CircuitBreaker>();

  constructor(private readonly deps: FlowControlDeps) {}

  /** Checks a handler's options (at construction, so mistakes fail early) and makes its guard. */
  register(label: string, options: HandlerFlowOptions): void {
    this.guard(label, options);
  }

  guard(label: string, options: HandlerFlowOptions): HandlerGuard {
    const name = options.downstream ?? label;
    const existing = this.guards.get(name);
    if (existing) return existing;
    const { defaults, participant, circuitState, logger, clock = systemClock } = this.deps;
    const check = new OptionChecks();
    const concurrency = check.int(`${label}.concurrency`, options.concurrency ?? defaults.handlerConcurrency);
    const breakerOptions = options.circuitBreaker === false ? undefined : (options.circuitBreaker ?? defaults.circuitBreaker);
    const settings = breakerOptions ? circuitBreakerSettings(`${label}.circuitBreaker`, breakerOptions, check) : undefined;
    if (settings && settings.consecutiveFailures > defaults.retryAttempts) {
      check.add(
        `${label}.circuitBreaker.consecutiveFailures (${settings.consecutiveFailures}) is above retry.attempts (${defaults.retryAttempts}): ` +
          'an event handled alone would be given up before the breaker opens; lower it or raise retry.attempts',
      );
    }
    if (options.overflow === 'retry-topic' && !defaults.retryTopic) {
      check.add(`${label}.overflow 'retry-topic' needs the participant's retryTopic option (events overflow into it)`);
    }
    const rate = options.rateLimit;
    const perSecond = rate ? check.number(`${label}.rateLimit.perSecond`, rate.perSecond, { min: 0.001 }) : 0;
    const burst = rate ? check.number(`${label}.rateLimit.burst`, rate.burst ?? Math.max(1, perSecond), { min: 1 }) : 0;
    throwIfInvalid(check, `participant ${participant}`);
    let breaker: CircuitBreaker | undefined;
    if (settings) {
      breaker = new CircuitBreaker(name, settings, (t) => {
        circuitState.set({ participant, circuit: name }, CIRCUIT_STATE_VALUE[t.to]);
        const fields = { circuit: name, from: t.from, to: t.to, reason: t.reason };
        if (t.to === 'open') logger.warn(fields, `circuit ${name} opened: its events wait (partitions paused, nothing given up)`);
        else logger.info(fields, `circuit ${name} is ${t.to}`);
      });
      circuitState.set({ participant, circuit: name }, CIRCUIT_STATE_VALUE.closed);
      this.breakers.set(name, breaker);
    }
    const guard = new HandlerGuard(
      name,
      new Semaphore(concurrency),
      breaker,
      rate ? new RateLimiter(perSecond, burst, clock.now()) : undefined,
    ).on(clock);
    this.guards.set(name, guard);
    return guard;
  }

  /** Breakers that are open or half-open. */
  openCircuits(): readonly CircuitReport[] {
    return [...this.breakers.values()]
      .filter((b) => b.state !== 'closed')
      .map((b) => ({ name: b.name, state: b.state, since: b.since, reason: b.reason }));
  }
}
