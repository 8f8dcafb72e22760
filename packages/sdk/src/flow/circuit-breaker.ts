import type { CircuitBreakerSettings } from './flow-options.js';

/** 0 closed, 1 half-open, 2 open: the value of the `troupe_circuit_state` gauge. */
export type CircuitState = 'closed' | 'half-open' | 'open';

export const CIRCUIT_STATE_VALUE: Readonly<Record<CircuitState, number>> = { closed: 0, 'half-open': 1, open: 2 };

/** May an attempt start now? `probe` marks the one attempt a half-open breaker lets through. */
export type CircuitAdmission = { readonly allowed: true; readonly probe: boolean } | { readonly allowed: false; readonly until: number };

/** A state change, for logs and metrics. */
export interface CircuitTransition {
  readonly from: CircuitState;
  readonly to: CircuitState;
  readonly reason: string;
}

const BUCKETS = 10;

/**
 * A circuit breaker: closed while attempts succeed; open after `consecutiveFailures` transient
 * failures in a row or a `failureRate` over `windowMs`; after `openMs` half-open, letting one
 * probe through, which closes it (success) or opens it again (failure). No I/O; the clock is
 * passed in so tests can drive it.
 */
export class CircuitBreaker {
  private current: CircuitState = 'closed';
  private consecutive = 0;
  private openedAt = 0;
  private probing = false;
  /** Why it opened (the failure count or rate and the last error), for health and logs. */
  reason = '';
  private lastError = '';
  private readonly buckets = Array.from({ length: BUCKETS }, () => ({ start: 0, ok: 0, failed: 0 }));

  constructor(
    readonly name: string,
    private readonly settings: CircuitBreakerSettings,
    private readonly onTransition: (t: CircuitTransition) => void = () => undefined,
  ) {}

  get state(): CircuitState {
    return this.current;
  }

  /** When the breaker was last opened (ms since the epoch), 0 if never. */
  get since(): number {
    return this.openedAt;
  }

  admit(now: number): CircuitAdmission {
    switch (this.current) {
      case 'closed':
        return { allowed: true, probe: false };
      case 'open': {
        const until = this.openedAt + this.settings.openMs;
        if (now < until) return { allowed: false, until };
        this.move('half-open', `open for ${this.settings.openMs} ms; letting one probe through`);
        this.probing = true;
        return { allowed: true, probe: true };
      }
      case 'half-open':
        if (this.probing) return { allowed: false, until: now + Math.min(1000, this.settings.openMs) };
        this.probing = true;
        return { allowed: true, probe: true };
    }
  }

  /** Blocked until when, if an attempt asked now would be refused (without starting a probe). */
  blockedUntil(now: number): number | undefined {
    if (this.current === 'open') return Math.max(now + 1, this.openedAt + this.settings.openMs);
    if (this.current === 'half-open' && this.probing) return now + Math.min(1000, this.settings.openMs);
    return undefined;
  }

  succeeded(now: number, probe: boolean): void {
    this.count(now, true);
    this.consecutive = 0;
    if (probe) this.probing = false;
    if (this.current !== 'closed' && (probe || this.current === 'half-open')) {
      this.move('closed', 'a probe attempt succeeded');
    }
  }

  /** A transient failure (retriable error or timeout); other failures are the event's own problem. */
  failed(now: number, probe: boolean, error: string): void {
    this.count(now, false);
    this.consecutive += 1;
    this.lastError = error;
    if (probe) {
      this.probing = false;
      this.open(now, `the probe attempt failed: ${error}`);
      return;
    }
    if (this.current !== 'closed') return;
    if (this.consecutive >= this.settings.consecutiveFailures) {
      this.open(now, `${this.consecutive} transient failures in a row, the last: ${this.lastError}`);
      return;
    }
    const { ok, failed } = this.window(now);
    if (ok + failed >= this.settings.minimumAttempts && failed / (ok + failed) >= this.settings.failureRate) {
      this.open(now, `${failed} of ${ok + failed} attempts in ${this.settings.windowMs} ms failed, the last: ${this.lastError}`);
    }
  }

  /** An admitted probe that ended without an outcome (the partition was taken away): let another try. */
  abandoned(probe: boolean): void {
    if (probe) this.probing = false;
  }

  private open(now: number, reason: string): void {
    this.openedAt = now;
    this.reason = reason;
    this.move('open', reason);
  }

  private move(to: CircuitState, reason: string): void {
    const from = this.current;
    if (from === to) return;
    this.current = to;
    if (to === 'closed') {
      this.consecutive = 0;
      for (const b of this.buckets) b.ok = b.failed = 0;
    }
    this.onTransition({ from, to, reason });
  }

  private count(now: number, ok: boolean): void {
    const width = this.settings.windowMs / BUCKETS;
    const start = Math.floor(now / width) * width;
    const b = this.buckets[Math.floor(now / width) % BUCKETS];
    if (!b) return;
    if (b.start !== start) {
      b.start = start;
      b.ok = 0;
      b.failed = 0;
    }
    if (ok) b.ok += 1;
    else b.failed += 1;
  }

  private window(now: number): { ok: number; failed: number } {
    let ok = 0;
    let failed = 0;
    for (const b of this.buckets) {
      if (now - b.start >= this.settings.windowMs) continue;
      ok += b.ok;
      failed += b.failed;
    }
    return { ok, failed };
  }
}
