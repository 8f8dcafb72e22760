import { parseDuration } from '@troupe/core';
import { SdkError } from '../errors.js';

/**
 * The time source of a transport and of the participants on it: record timestamps, retry-topic
 * delays, redelivery pauses, durable timers and saga deadlines all read it. {@link systemClock}
 * is the wall clock; a {@link VirtualClock} moves only when a test advances it.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Calls `fn` once `ms` have passed on this clock; returns the function that cancels it. */
  setTimer(ms: number, fn: () => void): () => void;
}

/** The wall clock (`Date.now`, `setTimeout`). */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer: (ms, fn) => {
    const t = setTimeout(fn, Math.max(0, ms));
    return () => clearTimeout(t);
  },
};

/** A duration in ms, or in the contracts' syntax (`250ms`, `30s`, `10m`, `1h`). */
export type DurationInput = number | string;

/** Milliseconds of a {@link DurationInput}; throws CONFIG_INVALID with the accepted syntax otherwise. */
export function durationMs(d: DurationInput, what: string): number {
  const ms = typeof d === 'number' ? d : parseDuration(d);
  if (ms === undefined || !Number.isFinite(ms) || ms < 0) {
    throw new SdkError(
      'CONFIG_INVALID',
      `${what}: '${String(d)}' is not a duration; give milliseconds or e.g. '250ms', '30s', '10m', '1h'`,
    );
  }
  return ms;
}

interface VirtualTimer {
  readonly due: number;
  readonly seq: number;
  readonly fn: () => void;
}

/**
 * A clock that stands still until {@link advance} moves it: timers due on the way fire in due
 * order, and after each one the registered parties (the memory transport's workers) finish what
 * it set off before time moves on. A one-hour deadline is then tested in milliseconds.
 *
 * ```ts
 * const clock = new VirtualClock();
 * const transport = await MemoryTransport.create({ clock });
 * // ... start participants on the transport, publish ...
 * await clock.advance('1h'); // deadlines, timers and retry delays up to one hour from now act
 * ```
 */
export class VirtualClock implements Clock {
  private t: number;
  private seq = 0;
  private timers: VirtualTimer[] = [];
  private readonly settlers = new Set<() => Promise<void>>();

  /** @param start where time starts, ms since the epoch or a Date @default the wall clock's now */
  constructor(start: number | Date = Date.now()) {
    this.t = typeof start === 'number' ? start : start.getTime();
  }

  now(): number {
    return this.t;
  }

  setTimer(ms: number, fn: () => void): () => void {
    const timer: VirtualTimer = { due: this.t + Math.max(0, ms), seq: this.seq++, fn };
    this.timers.push(timer);
    return () => {
      this.timers = this.timers.filter((x) => x !== timer);
    };
  }

  /** Timers waiting on this clock. */
  get pending(): number {
    return this.timers.length;
  }

  /**
   * Registers work that `advance` and `settle` wait for (resolves once that party is idle);
   * returns the function that unregisters it.
   */
  onSettle(settler: () => Promise<void>): () => void {
    this.settlers.add(settler);
    return () => this.settlers.delete(settler);
  }

  /** Waits until the registered parties are idle, without moving time. */
  async settle(): Promise<void> {
    // A few macrotask turns let promise chains started by a timer reach the parties.
    for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
    for (const s of [...this.settlers]) await s();
  }

  /**
   * Moves time forward by `by`, firing every timer due on the way in due order and letting the
   * registered parties settle after each; resolves at the new time with everything settled.
   */
  async advance(by: DurationInput): Promise<void> {
    const target = this.t + durationMs(by, 'VirtualClock.advance');
    await this.settle();
    for (;;) {
      const next = this.nextDue(target);
      if (!next) break;
      this.timers = this.timers.filter((x) => x !== next);
      this.t = Math.max(this.t, next.due);
      next.fn();
      await this.settle();
    }
    this.t = target;
    await this.settle();
  }

  /** Moves time to `at` (never backwards); see {@link advance}. */
  advanceTo(at: number | Date): Promise<void> {
    const ms = (typeof at === 'number' ? at : at.getTime()) - this.t;
    return this.advance(Math.max(0, ms));
  }

  private nextDue(target: number): VirtualTimer | undefined {
    let best: VirtualTimer | undefined;
    for (const x of this.timers) {
      if (x.due > target) continue;
      if (!best || x.due < best.due || (x.due === best.due && x.seq < best.seq)) best = x;
    }
    return best;
  }
}
