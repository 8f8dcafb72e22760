import type { Logger } from 'pino';
import { describeError, type SdkError } from '../../errors.js';
import type { Semaphore } from '../../util/semaphore.js';
import { mergeBatch, recordBytes, type MergeSource, type QueuedRecord } from '../merge.js';
import type { ConsumerSpec, InboundMessage, OutboundRecord, PartitionBatch } from '../transport.js';

/** Flow-control settings of a Kafka consumer (see `KafkaTransportOptions`). */
export interface FlowSettings {
  readonly redeliveryDelayMs: number;
  /** Per topic-partition queue bound: a queue at the bound pauses its partition's fetching. */
  readonly maxQueuedRecords: number;
  readonly maxQueuedBytes: number;
  /** Longest wait for a lagging co-partitioned partition before merging without it. */
  readonly mergeWaitMs: number;
  readonly logger: Logger;
}

/** What a worker needs from its consumer group member. */
export interface WorkerHost {
  readonly spec: ConsumerSpec;
  readonly flow: FlowSettings;
  /** Bounds the workers that run a handler at the same time (`spec.concurrency`). */
  readonly semaphore: Semaphore;
  pause(topic: string, partition: number): void;
  resume(topic: string, partition: number): void;
  /** Makes the fetcher continue at `offset` (past what an earlier owner committed). */
  seek(topic: string, partition: number, offset: string): void;
  /**
   * Fences the partition number's earlier owner (exactly-once: initialises its transactional id)
   * and returns the group's committed offsets, final once fenced.
   */
  takeOver(partition: number, topics: readonly string[]): Promise<ReadonlyMap<string, bigint | undefined>>;
  /** Log start and last stable offset of each of the topics' `partition`, read no earlier than `notBefore`. */
  endOffsets(
    topics: readonly string[],
    partition: number,
    notBefore: number,
  ): Promise<{ readonly at: number; readonly offsets: ReadonlyMap<string, { low: bigint; end: bigint }> }>;
  /** Resolves once no rebalance is under way; false if this worker lost its partition meanwhile. */
  mayCommit(worker: PartitionWorker): Promise<boolean>;
  /** One transaction (or offset commit) with the outputs and the next offsets per topic. */
  commit(partition: number, outputs: readonly OutboundRecord[], offsets: ReadonlyMap<string, string>): Promise<void>;
  /** A broker refusal of access, typed and saying what to grant; undefined for other errors. */
  accessProblem(err: unknown, action: string): SdkError | undefined;
  /** The commit failed: the next `takeOver` must fence and re-read (a fenced or broken producer). */
  dropProducer(partition: number): void;
}

/** One topic-partition's fetched, not yet committed records. */
class Queue {
  private items: QueuedRecord[] = [];
  private head = 0;
  bytes = 0;
  /** Next offset the fetcher delivers: everything below is queued or done. */
  fetchedNext: bigint | undefined;
  caughtUpAsOf = 0;
  /** When an empty queue started holding up the merge while its partition lagged. */
  waitingSince: number | undefined;
  /** A lag check found unread records: wait for them instead of asking again. */
  lagging = false;
  paused = false;

  constructor(
    readonly topic: string,
    readonly rank: number,
  ) {}

  get length(): number {
    return this.items.length - this.head;
  }

  view(): readonly QueuedRecord[] {
    if (this.head > 0) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return this.items;
  }

  push(r: QueuedRecord): void {
    this.items.push(r);
    this.bytes += r.bytes;
  }

  shift(): QueuedRecord | undefined {
    const r = this.items[this.head];
    if (!r) return undefined;
    this.head += 1;
    this.bytes -= r.bytes;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return r;
  }

  dropBelow(offset: bigint): void {
    while (this.length > 0 && (this.items[this.head]?.offset ?? offset) < offset) this.shift();
  }

  clear(): void {
    this.items = [];
    this.head = 0;
    this.bytes = 0;
  }
}

/** Topics of one lane: merged by timestamp (the domain topics) or one standalone topic. */
interface Lane {
  readonly queues: Queue[];
  readonly merged: boolean;
  /** No batch from this lane before this time (a redelivery pause or a retry not yet due). */
  notBefore: number;
}

/**
 * The worker of one partition number: every owned topic's partition with that number feeds its
 * queues; it handles one batch at a time, merged across the co-partitioned topics in timestamp
 * order, and commits each batch (outputs and all topics' offsets) in one transaction. Fetching
 * never waits for it: a full queue pauses only its own partition.
 */
export class PartitionWorker {
  private readonly queues = new Map<string, Queue>();
  private readonly lanes: Lane[] = [];
  /** Empty batches asked for by `spec.wakeAt` (timers falling due). */
  private readonly tickLane: Lane = { queues: [], merged: false, notBefore: 0 };
  private nextLane = 0;
  private wake: (() => void) | undefined;
  private running: Promise<void> | undefined;
  /** Stop taking batches (shutdown): the batch in flight still commits. */
  private finishing = false;
  /** The partition number was taken away: nothing more is committed. */
  revoked = false;
  private needsTakeOver = true;
  /** Last time a batch committed (or the worker started): readiness reports a stalled worker. */
  lastProgressAt = Date.now();
  /** Why the last commit failed, until one succeeds (readiness shows it for a stalled worker). */
  lastError: string | undefined;

  constructor(
    readonly partition: number,
    topics: readonly string[],
    private readonly host: WorkerHost,
  ) {
    const standalone = new Set(host.spec.standaloneTopics ?? []);
    const merged: Queue[] = [];
    host.spec.topics.forEach((topic, rank) => {
      if (!topics.includes(topic)) return;
      const q = new Queue(topic, rank);
      this.queues.set(topic, q);
      if (standalone.has(topic)) this.lanes.push({ queues: [q], merged: false, notBefore: 0 });
      else merged.push(q);
    });
    if (merged.length > 0) this.lanes.unshift({ queues: merged, merged: true, notBefore: 0 });
  }

  get topics(): readonly string[] {
    return [...this.queues.keys()];
  }

  start(): void {
    this.running ??= this.run().catch((err: unknown) => {
      this.host.flow.logger.error({ partition: this.partition, err: describeError(err) }, 'partition worker failed');
    });
  }

  /** Revoked: stop at once, commit nothing more. Finishing: let the batch in flight commit. */
  async stop(how: 'revoked' | 'finish'): Promise<void> {
    this.finishing = true;
    if (how === 'revoked') this.revoked = true;
    this.signal();
    await this.running;
    for (const q of this.queues.values()) {
      q.clear();
      if (q.paused) this.host.resume(q.topic, this.partition);
    }
  }

  isStale(): boolean {
    return this.finishing || this.revoked;
  }

  /** Fetched records of one of this worker's partitions; returns false if it was not taken. */
  enqueue(topic: string, messages: readonly InboundMessage[], lastOffset: string): boolean {
    const q = this.queues.get(topic);
    if (!q || this.isStale()) return false;
    const floor = q.fetchedNext;
    for (const m of messages) {
      const offset = BigInt(m.offset);
      // A rejoin makes the fetcher start again at the committed offset: skip what is queued.
      if (floor !== undefined && offset < floor) continue;
      q.push({ message: m, ts: Number(m.timestamp), offset, bytes: recordBytes(m) });
    }
    this.advance(q, BigInt(lastOffset) + 1n);
    if (q.length >= this.host.flow.maxQueuedRecords || q.bytes >= this.host.flow.maxQueuedBytes) {
      // Asserted on every overfull delivery: a rejoin may have cleared kafkajs's paused set.
      q.paused = true;
      this.host.pause(topic, this.partition);
    }
    this.signal();
    return true;
  }

  /** The fetcher moved past records it did not hand over (transaction markers, aborted records). */
  fetchedUpTo(topic: string, next: bigint): void {
    const q = this.queues.get(topic);
    if (!q) return;
    this.advance(q, next);
    this.signal();
  }

  /** Records waiting, for metrics and health. */
  queued(): { records: number; bytes: number } {
    let records = 0;
    let bytes = 0;
    for (const q of this.queues.values()) {
      records += q.length;
      bytes += q.bytes;
    }
    return { records, bytes };
  }

  private advance(q: Queue, next: bigint): void {
    if (q.fetchedNext === undefined || next > q.fetchedNext) q.fetchedNext = next;
    q.lagging = false;
    q.waitingSince = undefined;
  }

  private signal(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  /** Waits for records, a wake-up or `ms`; not at all once stopping (a stop may have come while busy). */
  private sleep(ms: number): Promise<void> {
    if (this.isStale()) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(
        () => {
          if (this.wake === done) this.wake = undefined;
          resolve();
        },
        Math.max(1, ms),
      );
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.wake = done;
    });
  }

  private async run(): Promise<void> {
    while (!this.isStale()) {
      if (this.needsTakeOver) {
        try {
          await this.takeOver();
        } catch (err) {
          this.host.flow.logger.warn(
            { partition: this.partition, err: describeError(err) },
            'cannot take over the partition yet; trying again',
          );
          await this.sleep(this.host.flow.redeliveryDelayMs);
          continue;
        }
      }
      const next = await this.nextBatch();
      if (next === 'wait') continue;
      const release = await this.host.semaphore.acquire();
      try {
        if (this.isStale()) return;
        await this.handle(next.lane, next.records);
      } finally {
        release();
      }
    }
  }

  /**
   * Before handling anything, the earlier owner is fenced and the committed offsets re-read: an
   * earlier owner may have committed past what the fetcher started from. Queued records below
   * them are done; the fetcher skips ahead if it is behind.
   */
  private async takeOver(): Promise<void> {
    const committed = await this.host.takeOver(this.partition, this.topics);
    const missing = [...this.queues.values()].filter((q) => committed.get(q.topic) === undefined && q.fetchedNext === undefined);
    const ends =
      missing.length > 0
        ? await this.host.endOffsets(
            missing.map((q) => q.topic),
            this.partition,
            0,
          )
        : undefined;
    for (const q of this.queues.values()) {
      const c = committed.get(q.topic);
      if (c === undefined) {
        // No committed offset yet: the fetcher starts at the log start or at its end.
        const e = ends?.offsets.get(q.topic);
        if (q.fetchedNext === undefined && e) q.fetchedNext = this.host.spec.fromBeginning ? e.low : e.end;
        continue;
      }
      q.dropBelow(c);
      if (q.fetchedNext === undefined || q.fetchedNext < c) {
        if (q.fetchedNext !== undefined) {
          this.host.flow.logger.warn(
            { topic: q.topic, partition: this.partition, fetched: String(q.fetchedNext), committed: String(c) },
            'an earlier owner committed past the fetched offset; skipping ahead',
          );
        }
        q.fetchedNext = c;
        this.host.seek(q.topic, this.partition, String(c));
      }
    }
    this.needsTakeOver = false;
  }

  /** The next batch of a lane that is due, or 'wait' after waiting for records, a check or time. */
  private async nextBatch(): Promise<{ lane: Lane; records: readonly QueuedRecord[] } | 'wait'> {
    const now = Date.now();
    let soonest = Number.POSITIVE_INFINITY;
    const wake = this.host.spec.wakeAt?.(this.partition);
    if (wake !== undefined) {
      const at = Math.max(wake, this.tickLane.notBefore);
      if (at <= now) return { lane: this.tickLane, records: [] };
      soonest = at;
    }
    const lagChecks: { queues: MergeSource[]; at: number }[] = [];
    for (let k = 0; k < this.lanes.length; k++) {
      const lane = this.lanes[(this.nextLane + k) % this.lanes.length];
      if (!lane) continue;
      if (lane.notBefore > now) {
        if (lane.queues.some((q) => q.length > 0)) soonest = Math.min(soonest, lane.notBefore);
        continue;
      }
      const sources: MergeSource[] = lane.queues.map((q) => ({
        topic: q.topic,
        rank: q.rank,
        records: q.view(),
        caughtUpAsOf: q.caughtUpAsOf,
        waitedEnough: !lane.merged || (q.waitingSince !== undefined && now - q.waitingSince >= this.host.flow.mergeWaitMs),
      }));
      const batch = mergeBatch(sources, this.host.spec.maxBatchSize);
      if (batch.records.length > 0) {
        this.nextLane = (this.nextLane + k + 1) % this.lanes.length;
        return { lane, records: batch.records };
      }
      if (batch.blockedAt === undefined) continue;
      // Held up by empty queues whose partitions may hold an older record.
      const unknown: MergeSource[] = [];
      for (const s of batch.blockedBy) {
        const q = this.queues.get(s.topic);
        if (!q) continue;
        q.waitingSince ??= now;
        soonest = Math.min(soonest, q.waitingSince + this.host.flow.mergeWaitMs);
        if (!q.lagging) unknown.push(s);
      }
      if (unknown.length > 0) lagChecks.push({ queues: unknown, at: batch.blockedAt });
    }
    if (lagChecks.length > 0) {
      await this.checkLag(lagChecks, now);
      return 'wait';
    }
    await this.sleep(Number.isFinite(soonest) ? soonest - now : 60_000);
    return 'wait';
  }

  /** Asks the broker whether the empty queues' partitions hold unread records. */
  private async checkLag(checks: readonly { queues: readonly MergeSource[]; at: number }[], viewAt: number): Promise<void> {
    const topics = [...new Set(checks.flatMap((c) => c.queues.map((q) => q.topic)))];
    const at = Math.max(...checks.map((c) => c.at));
    try {
      // Read after the held-up records were in hand: whatever caused them was committed before
      // they were produced, so it is below the end offset read now.
      const ends = await this.host.endOffsets(topics, this.partition, viewAt);
      for (const topic of topics) {
        const q = this.queues.get(topic);
        const end = ends.offsets.get(topic)?.end;
        if (!q || end === undefined) continue;
        if (q.fetchedNext !== undefined && end <= q.fetchedNext) {
          q.caughtUpAsOf = Math.max(q.caughtUpAsOf, ends.at, at);
          q.waitingSince = undefined;
        } else {
          q.lagging = true;
        }
      }
    } catch (err) {
      this.host.flow.logger.warn(
        { partition: this.partition, err: describeError(err) },
        'cannot read end offsets; merging after the wait bound',
      );
      for (const topic of topics) {
        const q = this.queues.get(topic);
        if (q) q.lagging = true;
      }
    }
  }

  private async handle(lane: Lane, records: readonly QueuedRecord[]): Promise<void> {
    const { spec, flow } = this.host;
    const batch: PartitionBatch = {
      partition: this.partition,
      messages: records.map((r) => r.message),
      isStale: () => this.isStale(),
      heartbeat: () => Promise.resolve(),
    };
    const first = records[0]?.message;
    let processed = 0;
    let retryAfterMs: number | undefined;
    const tick = records.length === 0;
    let tickFailed = false;
    try {
      const outcome = await spec.handle(batch);
      processed = Math.max(0, Math.min(outcome.processed, records.length));
      retryAfterMs = outcome.retryAfterMs;
      // An empty batch (timers falling due) commits its outputs in a transaction of their own.
      if (processed > 0 || (tick && outcome.outputs.length > 0)) {
        if (!(await this.host.mayCommit(this))) return;
        const offsets = new Map<string, string>();
        for (const r of records.slice(0, processed)) offsets.set(r.message.topic, String(r.offset + 1n));
        try {
          await this.host.commit(this.partition, outcome.outputs, offsets);
        } catch (err) {
          this.lastError = describeError(err);
          outcome.onCommitFailed?.(err);
          this.needsTakeOver = true;
          this.host.dropProducer(this.partition);
          throw err;
        }
        this.lastProgressAt = Date.now();
        this.lastError = undefined;
        for (const r of records.slice(0, processed)) this.queues.get(r.message.topic)?.shift();
        this.resumeDrained();
        outcome.afterCommit?.();
      }
    } catch (err) {
      const denied = this.host.accessProblem(err, `committing outputs of partition ${this.partition}`);
      if (denied) {
        // Nothing is lost (the batch is delivered again), but it cannot succeed until an operator acts.
        flow.logger.error(
          { topic: first?.topic, partition: this.partition, offset: first?.offset, code: denied.code },
          `${denied.message} The batch will be delivered again.`,
        );
      } else {
        flow.logger.warn(
          { topic: first?.topic, partition: this.partition, offset: first?.offset, err: describeError(err) },
          'batch not committed; it will be delivered again',
        );
      }
      processed = 0;
      retryAfterMs = undefined;
      tickFailed = tick;
    }
    if (tickFailed || (processed < records.length && (processed === 0 || retryAfterMs !== undefined))) {
      // The rest stays queued; this lane pauses, the worker's other lanes and partitions go on.
      lane.notBefore = Date.now() + (retryAfterMs ?? flow.redeliveryDelayMs);
    }
  }

  /** A paused partition resumes once its queue is down to half of the bound. */
  private resumeDrained(): void {
    const { maxQueuedRecords, maxQueuedBytes } = this.host.flow;
    for (const q of this.queues.values()) {
      if (q.paused && q.length <= maxQueuedRecords / 2 && q.bytes <= maxQueuedBytes / 2) {
        q.paused = false;
        this.host.resume(q.topic, this.partition);
      }
    }
  }
}
