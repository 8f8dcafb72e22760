import type { Logger } from 'pino';
import { describeError } from '../errors.js';
import type { BatchOutcome, OutboundRecord, Transport } from '../transport/transport.js';
import type { Clock } from './clock.js';
import { PartitionRestores } from '../participant/partition-restores.js';
import { TimerBook } from './timer-book.js';
import { readTimer, timerTombstone, type Timer, type TimerKind } from './timer-record.js';

/** What firing a timer of one kind emits (the timer's own tombstone is added unless it is rewritten). */
export type TimerFirer = (timer: Timer, partition: number) => Promise<readonly OutboundRecord[]>;

export interface TimerServiceDeps {
  readonly transport: Transport;
  readonly topic: string;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly firers: Partial<Record<TimerKind, TimerFirer>>;
  /** Timers fired per empty batch (one transaction). @default 100 */
  readonly maxFiredPerBatch?: number;
}

/** How long a timer that cannot fire waits before the next try. */
const RETRY_MS = 5_000;

/**
 * Durable timers of one participant: records on its timer topic, held in memory per partition
 * number by the worker that owns it. After an assignment change a partition's timers are read
 * back from the topic (compacted: one record per timer, tombstones for the gone ones), so they
 * survive restarts and move with their partitions; a read that finishes after the assignment
 * changed again is dropped ({@link PartitionRestores}). A timer is written, cancelled and fired by
 * records committed with the batch that caused them (exactly-once: one transaction), and what
 * is committed is applied to the book only after the commit.
 */
export class TimerService {
  private readonly books: PartitionRestores<TimerBook>;
  private readonly maxFired: number;

  constructor(private readonly deps: TimerServiceDeps) {
    this.maxFired = deps.maxFiredPerBatch ?? 100;
    this.books = new PartitionRestores({
      what: `the timer topic ${deps.topic}`,
      read: (partition) => this.read(partition),
      logger: deps.logger,
      now: () => deps.clock.now(),
    });
  }

  get topic(): string {
    return this.deps.topic;
  }

  /** Partitions moved: what was known may belong to another member now; read back on next use. */
  forget(): void {
    this.books.reassigned();
  }

  /** Pending timers (all partitions held), for metrics and the memory measurement. */
  pending(): number {
    let n = 0;
    for (const [, b] of this.books.values()) n += b.size;
    return n;
  }

  /** A pending timer of a partition (for checks at fire or handling time). */
  get(partition: number, key: string): Timer | undefined {
    return this.books.get(partition)?.get(key);
  }

  /** When the partition's worker should call with an empty batch: now if not read back yet. */
  wakeAt(partition: number): number | undefined {
    const state = this.books.state(partition);
    if (state === undefined) return this.books.retryAt(partition) ?? this.deps.clock.now();
    if (state === 'restoring') return undefined;
    return this.books.get(partition)?.nextDue();
  }

  /** Reads the partition's timers back once per assignment; rejects while the topic is unreadable. */
  async restore(partition: number): Promise<void> {
    await this.books.restore(partition);
  }

  /** A batch of the partition committed `outputs`: its timer records take effect. */
  applyCommitted(partition: number, outputs: readonly OutboundRecord[]): void {
    this.books.afterRestore(partition, (book) => applyTo(book, this.deps.topic, outputs));
  }

  private async read(partition: number): Promise<TimerBook> {
    const records = await this.deps.transport.readPartition(this.deps.topic, partition, '0');
    const book = new TimerBook();
    for (const r of records) {
      const t = readTimer(r);
      if (t !== undefined && r.key !== null) book.apply(r.key.toString(), t);
    }
    if (book.size > 0) this.deps.logger.info({ partition, timers: book.size }, 'restored pending timers');
    return book;
  }

  /** The empty batch of a partition: reads its timers back if needed and fires those due. */
  async tick(partition: number): Promise<BatchOutcome> {
    let book: TimerBook;
    try {
      book = await this.books.restore(partition);
    } catch {
      return { outputs: [], processed: 0 };
    }
    const now = this.deps.clock.now();
    const outputs: OutboundRecord[] = [];
    for (const timer of book.due(now, this.maxFired)) {
      const firer = this.deps.firers[timer.kind];
      let fired: readonly OutboundRecord[] = [];
      try {
        fired = firer ? await firer(timer, partition) : [];
      } catch (err) {
        this.deps.logger.error(
          { sagaId: timer.sagaId, timer: timer.key, err: describeError(err) },
          `timer cannot fire; trying again in ${RETRY_MS} ms`,
        );
        book.postpone(timer, now + RETRY_MS);
        continue;
      }
      outputs.push(...fired);
      const rewritten = fired.some((r) => r.topic === this.deps.topic && keyOf(r) === timer.key);
      if (!rewritten) outputs.push(timerTombstone(this.deps.topic, partition, timer.key));
    }
    return { outputs, processed: 0, afterCommit: () => this.applyCommitted(partition, outputs) };
  }
}

const keyOf = (r: OutboundRecord): string | undefined => (r.key === null ? undefined : r.key.toString());

function applyTo(book: TimerBook, topic: string, outputs: readonly OutboundRecord[]): void {
  for (const r of outputs) {
    if (r.topic !== topic) continue;
    const key = keyOf(r);
    const t = readTimer(r);
    if (key !== undefined && t !== undefined) book.apply(key, t);
  }
}
