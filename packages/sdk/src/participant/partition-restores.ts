import type { Logger } from 'pino';
import { describeError } from '../errors.js';

interface Entry<T> {
  readonly promise: Promise<T>;
  /** The read's result, once it arrived for the assignment it was started in. */
  restored?: { readonly value: T };
  /** Changes committed while the read was under way: applied to its result before anyone sees it. */
  readonly later: ((value: T) => void)[];
}

/** How long a partition whose state cannot be read is left alone by callers that poll ({@link PartitionRestores.retryAt}). */
const RETRY_MS = 5_000;

/**
 * State a participant rebuilds per partition number from a topic after each assignment change:
 * pending timers, sagas given up on, the inbox window, sagas waiting in the retry topic. The read
 * takes seconds (a throw-away reader group), and the assignment may change — the partition revoked
 * and assigned back — while it runs; its result may then miss what another owner wrote meanwhile.
 * So each read belongs to the assignment it was started in (its entry; {@link reassigned} drops
 * them all): a result that arrives for an assignment that is no longer current is dropped, and its
 * callers get the current assignment's read instead. A failed read is logged, forgotten and tried
 * again by the next caller; callers do not handle the partition until it succeeded.
 */
export class PartitionRestores<T> {
  private readonly entries = new Map<number, Entry<T>>();
  private readonly retries = new Map<number, number>();

  constructor(
    private readonly deps: {
      /** What is read, for the log: "the timer topic orders.timers". */
      readonly what: string;
      readonly read: (partition: number) => Promise<T>;
      /** Called with a read's result when it is still current, before it is returned to anyone. */
      readonly apply?: (partition: number, value: T) => void;
      readonly logger: Logger;
      readonly now: () => number;
    },
  ) {}

  /** The assignment changed: reads under way and state read before belong to an earlier one. */
  reassigned(): void {
    this.entries.clear();
    this.retries.clear();
  }

  /** The partition's state for the current assignment, read once; rejects while it cannot be read. */
  restore(partition: number): Promise<T> {
    const existing = this.entries.get(partition);
    if (existing) return existing.promise;
    const later: ((value: T) => void)[] = [];
    const promise = this.deps.read(partition).then(
      (value) => {
        // Read under an assignment that is gone: another member may have owned the partition since.
        if (this.entries.get(partition) !== entry) return this.restore(partition);
        this.deps.apply?.(partition, value);
        for (const apply of later.splice(0)) apply(value);
        entry.restored = { value };
        this.retries.delete(partition);
        return value;
      },
      (err: unknown) => {
        if (this.entries.get(partition) === entry) {
          this.entries.delete(partition);
          this.retries.set(partition, this.deps.now() + RETRY_MS);
          this.deps.logger.warn(
            { partition, err: describeError(err) },
            `cannot read ${this.deps.what} yet; the partition is not handled until it is read, trying again`,
          );
        }
        throw err;
      },
    );
    const entry: Entry<T> = { promise, later };
    // Failures reach the callers that await the read; none is left unhandled when nobody waits.
    promise.catch(() => undefined);
    this.entries.set(partition, entry);
    return promise;
  }

  /** The partition's state if it was read for the current assignment. */
  get(partition: number): T | undefined {
    return this.entries.get(partition)?.restored?.value;
  }

  /** Read for the current assignment, being read, or neither (not asked for yet, or the last read failed). */
  state(partition: number): 'restored' | 'restoring' | undefined {
    const e = this.entries.get(partition);
    return e === undefined ? undefined : e.restored ? 'restored' : 'restoring';
  }

  /** When a partition whose last read failed should be tried again. */
  retryAt(partition: number): number | undefined {
    return this.retries.get(partition);
  }

  /**
   * Something committed changes the partition's state: applied now if read, after the read if one
   * is under way (it may have started before the commit), not at all otherwise (the next read finds
   * it on the topic).
   */
  afterRestore(partition: number, apply: (value: T) => void): void {
    const e = this.entries.get(partition);
    if (e?.restored) apply(e.restored.value);
    else e?.later.push(apply);
  }

  /** The states read for the current assignment. */
  *values(): IterableIterator<[number, T]> {
    for (const [partition, e] of this.entries) if (e.restored) yield [partition, e.restored.value];
  }
}
