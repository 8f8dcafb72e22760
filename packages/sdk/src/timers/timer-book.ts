import type { Timer } from './timer-record.js';

interface Entry {
  readonly dueAt: number;
  readonly timer: Timer;
}

/**
 * The pending timers of one partition number: by key (the latest record wins, a tombstone
 * removes), and a min-heap by due time whose stale entries are dropped when they reach the top.
 */
export class TimerBook {
  private readonly byKey = new Map<string, Timer>();
  private heap: Entry[] = [];

  get size(): number {
    return this.byKey.size;
  }

  get(key: string): Timer | undefined {
    return this.byKey.get(key);
  }

  /** Applies one record's effect: a timer (replacing one with its key) or a tombstone (`null`). */
  apply(key: string, timer: Timer | null): void {
    if (timer === null) {
      this.byKey.delete(key);
      return;
    }
    if (this.byKey.get(key) === timer) return;
    this.byKey.set(key, timer);
    if (Number.isFinite(timer.dueAt)) this.push({ dueAt: timer.dueAt, timer });
  }

  /** Earliest due time of a pending timer, if any. */
  nextDue(): number | undefined {
    this.dropStale();
    return this.heap[0]?.dueAt;
  }

  /**
   * Timers due at `now`, earliest first, at most `max`. They stay pending (a failed commit leaves
   * them due); a committed tombstone or replacement removes them.
   */
  due(now: number, max: number): Timer[] {
    const out: Entry[] = [];
    while (out.length < max) {
      this.dropStale();
      const top = this.heap[0];
      if (!top || top.dueAt > now) break;
      out.push(this.pop());
    }
    for (const e of out) this.push(e);
    return out.map((e) => e.timer);
  }

  /** Looks at `timer` again no earlier than `at` (it could not fire). */
  postpone(timer: Timer, at: number): void {
    if (this.byKey.get(timer.key) === timer) this.push({ dueAt: at, timer });
    // Entries of the same timer with an earlier due time are skipped until `at`.
    this.heap = this.heap.filter((e) => e.timer !== timer || e.dueAt >= at);
    this.heapify();
  }

  private dropStale(): void {
    while (this.heap.length > 0) {
      const top = this.heap[0];
      if (top && this.byKey.get(top.timer.key) === top.timer) return;
      this.pop();
    }
  }

  private push(e: Entry): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = h[parent];
      if (!p || p.dueAt <= e.dueAt) break;
      h[i] = p;
      i = parent;
    }
    h[i] = e;
  }

  private pop(): Entry {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (!top || !last) throw new Error('TimerBook: pop from an empty heap');
    if (h.length > 0) {
      h[0] = last;
      this.siftDown(0);
    }
    return top;
  }

  private siftDown(start: number): void {
    const h = this.heap;
    let i = start;
    const e = h[i];
    if (!e) return;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      let mDue = e.dueAt;
      const left = h[l];
      const right = h[r];
      if (left && left.dueAt < mDue) {
        m = l;
        mDue = left.dueAt;
      }
      if (right && right.dueAt < mDue) m = r;
      if (m === i) break;
      const child = h[m];
      if (!child) break;
      h[i] = child;
      i = m;
    }
    h[i] = e;
  }

  private heapify(): void {
    for (let i = (this.heap.length >> 1) - 1; i >= 0; i--) this.siftDown(i);
  }
}
