/**
 * A token bucket that hands out reservations: each caller takes one token and waits until its
 * token is due, so callers start at most `perSecond` per second over time, `burst` at once.
 */
export class RateLimiter {
  private tokens: number;
  private at: number;

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    now: number = Date.now(),
  ) {
    this.tokens = burst;
    this.at = now;
  }

  /** Takes a token; returns how long to wait before using it (0 = now). */
  reserve(now: number = Date.now()): number {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) * this.perSecond) / 1000);
    this.at = now;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.perSecond);
  }
}
