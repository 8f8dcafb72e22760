/** The longest delay `setTimeout` takes as given (longer ones become 1 ms, with a warning). */
const MAX_TIMER_MS = 2 ** 31 - 1;

interface Entry {
  readonly at: number;
  /** Undefined once the deadline was cancelled or has expired. */
  expire: (() => void) | undefined;
}

/** Pending deadlines of one length, in start order, hence in order of expiry. */
class Lane {
  private entries: Entry[] = [];
  private head = 0;
  /** Armed for the first pending entry (or earlier); unref'd while nothing is pending. */
  private timer: NodeJS.Timeout | undefined;
  private refed = false;
  private firing = false;

  constructor(private readonly ms: number) {}

  add(expire: () => void): () => void {
    const entry: Entry = { at: performance.now() + this.ms, expire };
    this.entries.push(entry);
    if (this.firing) return this.canceller(entry);
    if (this.timer === undefined) this.arm(this.ms);
    else if (!this.refed) {
      // Armed for an earlier deadline, so no later than this one: it only has to hold the process again.
      this.timer.ref();
      this.refed = true;
    }
    return this.canceller(entry);
  }

  private canceller(entry: Entry): () => void {
    return () => {
      if (entry.expire === undefined) return;
      entry.expire = undefined;
      this.dropDone();
    };
  }

  private arm(delay: number): void {
    this.timer = setTimeout(() => this.fire(), delay);
    this.refed = true;
  }

  /** Drops cancelled entries at the head; with none pending the timer no longer holds the process. */
  private dropDone(): void {
    while (this.head < this.entries.length && this.entries[this.head]?.expire === undefined) this.head += 1;
    if (this.head === this.entries.length) {
      this.entries = [];
      this.head = 0;
      if (this.refed) {
        this.timer?.unref();
        this.refed = false;
      }
    } else if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }

  private fire(): void {
    this.timer = undefined;
    this.refed = false;
    const now = performance.now();
    // An expiry may start another deadline (of this length): it is armed below, with the rest.
    this.firing = true;
    try {
      // Timers may fire up to a millisecond early (libuv's loop time is whole milliseconds).
      for (let e = this.entries[this.head]; e !== undefined && (e.expire === undefined || e.at - now < 1); e = this.entries[this.head]) {
        this.head += 1;
        const expire = e.expire;
        e.expire = undefined;
        expire?.();
      }
    } finally {
      this.firing = false;
      this.dropDone();
      const next = this.entries[this.head];
      if (next !== undefined) this.arm(Math.max(1, Math.ceil(next.at - performance.now())));
    }
  }
}

/**
 * Deadlines that almost never expire — a handler attempt's (`handlerTimeoutMs`), set per attempt
 * and cancelled microseconds later — on one timer per deadline length instead of one per
 * deadline. A `setTimeout` per attempt made Node create and drop a timer list (and its priority
 * queue entry) per handled event: a few per cent of a participant's CPU in the step bench. A
 * deadline expires when `setTimeout(expire, ms)` would (to the millisecond), and holds the process
 * open while pending, as that timer would.
 */
export class Deadlines {
  private readonly lanes = new Map<number, Lane>();

  /** Calls `expire` once `ms` have passed, unless the returned function was called before. */
  start(ms: number, expire: () => void): () => void {
    if (!(ms >= 1 && ms <= MAX_TIMER_MS)) {
      // Whatever setTimeout makes of such a length, the same.
      const timer = setTimeout(expire, ms);
      return () => clearTimeout(timer);
    }
    let lane = this.lanes.get(ms);
    if (lane === undefined) {
      lane = new Lane(ms);
      this.lanes.set(ms, lane);
    }
    return lane.add(expire);
  }
}
