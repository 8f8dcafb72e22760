import { OptionChecks } from '@troupe/core';
import type { Consumer, EachBatchPayload, Kafka, PartitionAssigner } from 'kafkajs';
import { describeKafkaError, KafkaError } from './errors.js';
import { nextOffset, toKafkaRecord, type KafkaRecord } from './records.js';

/** A topic-partition. */
export interface TopicPartition {
  readonly topic: string;
  readonly partition: number;
}

/** Consecutive committed records of one partition, in offset order, and what may be done with them. */
export interface ReaderBatch extends TopicPartition {
  readonly records: readonly KafkaRecord[];
  /**
   * Offset of the last record fetched, counting a trailing transaction marker or aborted records
   * the batch leaves out: the fetcher continues after it.
   */
  readonly lastOffset: string;
  /** True once the partition was taken away (rebalance, shutdown): stop early, a commit would be fenced. */
  isStale(): boolean;
  /** Keeps group membership alive during long work; a failed heartbeat marks the batch stale. */
  heartbeat(): Promise<void>;
  /** Marks `offset` done, so the reader's commits (`commits: 'auto'`) include it. */
  resolveOffset(offset: string): void;
  /** Commits resolved offsets if the auto-commit policy says it is time (`commits: 'auto'`). */
  commitIfNecessary(): Promise<void>;
}

export interface ReaderOptions {
  readonly groupId: string;
  readonly topics: readonly string[];
  /**
   * Where a group without committed offsets starts.
   * @default true
   */
  readonly fromBeginning?: boolean;
  /**
   * Who commits offsets: `'manual'` — the handler does (in a transaction or with
   * {@link KafkaReader.commit}); `'auto'` — the reader commits what the handler resolved.
   */
  readonly commits: 'manual' | 'auto';
  /**
   * Partitions handled at the same time (each partition's batches stay in order).
   * @default 1
   */
  readonly concurrency?: number;
  /**
   * How long the group waits for a silent member before moving its partitions; heartbeats follow
   * from it ({@link heartbeatIntervalFor}).
   * @default 30_000
   */
  readonly sessionTimeoutMs?: number;
  /**
   * Longest a fetch waits for new records; also bounds how late a resumed partition is fetched.
   * @default 500
   */
  readonly maxWaitTimeMs?: number;
  /**
   * Retries of a failing broker call before the consumer crashes; kafkajs then restarts it unless
   * the error is not retriable.
   * @default 5
   */
  readonly retries?: number;
  /** @default kafkajs's round robin */
  readonly partitionAssigners?: readonly PartitionAssigner[];
  /** Handles one batch. Throwing leaves its unresolved records to be delivered again. */
  readonly handle: (batch: ReaderBatch) => Promise<void>;
  /** Called with the member's topic-partitions whenever they change (joins, rebalances). */
  readonly onAssignment?: (assignment: readonly TopicPartition[]) => void;
  /** Called when a rebalance starts (before the member rejoins): partitions may be taken away. */
  readonly onRebalancing?: () => void;
  /**
   * Called when the fetcher moved past records it never hands to `handle` (a fetch of only
   * transaction markers or aborted records): `next` is the partition's next offset to fetch.
   */
  readonly onSkipped?: (tp: TopicPartition, next: string) => void;
  /** Called when the consumer crashes; `restarting` says whether kafkajs starts it again. */
  readonly onCrash?: (error: Error, restarting: boolean) => void;
}

/**
 * Heartbeats ten times per session timeout, at most every 3 s and at least every 100 ms: often
 * enough that one late heartbeat never costs the membership.
 */
export function heartbeatIntervalFor(sessionTimeoutMs: number): number {
  return Math.max(100, Math.min(3_000, Math.floor(sessionTimeoutMs / 10)));
}

/**
 * The one Kafka consumer loop of Troupe: one group member reading `read_committed`, handing each
 * partition's batches to `handle` in order, with seek and pause/resume per partition.
 *
 * `handle` is per partition on purpose: the loop may later fetch into per-partition queues and
 * return to kafkajs at once (pausing a partition whose queue is full) without changing what a
 * handler sees.
 */
export class KafkaReader {
  private owned: readonly TopicPartition[] = [];
  private stopping: Promise<void> | undefined;
  private crashed: Error | undefined;

  private constructor(
    private readonly consumer: Consumer,
    private readonly opts: ReaderOptions,
  ) {}

  /** Joins the group and starts handling; a failure to start disconnects and throws CONSUMER_START_FAILED. */
  static async start(kafka: Kafka, opts: ReaderOptions): Promise<KafkaReader> {
    const check = new OptionChecks();
    const concurrency = check.int('concurrency', opts.concurrency ?? 1);
    const sessionTimeout = check.int('sessionTimeoutMs', opts.sessionTimeoutMs ?? 30_000, { min: 1_000 });
    const maxWaitTimeInMs = check.int('maxWaitTimeMs', opts.maxWaitTimeMs ?? 500);
    const retries = check.int('retries', opts.retries ?? 5, { min: 0 });
    if (opts.topics.length === 0) check.add('topics must list at least one topic');
    check.throwIfAny((problems) => new KafkaError('CONFIG_INVALID', `reader ${opts.groupId}: ${problems}`));
    const consumer = kafka.consumer({
      groupId: opts.groupId,
      readUncommitted: false,
      sessionTimeout,
      heartbeatInterval: heartbeatIntervalFor(sessionTimeout),
      allowAutoTopicCreation: false,
      maxWaitTimeInMs,
      retry: { retries },
      ...(opts.partitionAssigners ? { partitionAssigners: [...opts.partitionAssigners] } : {}),
    });
    const reader = new KafkaReader(consumer, opts);
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      reader.owned = Object.entries(e.payload.memberAssignment).flatMap(([topic, parts]) =>
        parts.map((partition) => ({ topic, partition })),
      );
      opts.onAssignment?.(reader.owned);
    });
    consumer.on(consumer.events.REBALANCING, () => opts.onRebalancing?.());
    consumer.on(consumer.events.START_BATCH_PROCESS, (e) => {
      if (e.payload.batchSize === 0)
        opts.onSkipped?.({ topic: e.payload.topic, partition: e.payload.partition }, nextOffset(e.payload.lastOffset));
    });
    consumer.on(consumer.events.CRASH, (e) => {
      // kafkajs restarts the consumer after retriable crashes; only a final one ends the reader.
      if (!e.payload.restart) reader.crashed = e.payload.error;
      opts.onCrash?.(e.payload.error, e.payload.restart);
    });
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [...opts.topics], fromBeginning: opts.fromBeginning ?? true });
      await consumer.run({
        autoCommit: opts.commits === 'auto',
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: concurrency,
        eachBatch: (payload) => reader.eachBatch(payload),
      });
    } catch (err) {
      await consumer.disconnect().catch(() => undefined);
      throw new KafkaError(
        'CONSUMER_START_FAILED',
        `cannot start consumer group ${opts.groupId} on ${opts.topics.join(', ')}: ${describeKafkaError(err)}`,
        {
          cause: err,
        },
      );
    }
    return reader;
  }

  /** Topic-partitions currently owned by this member. */
  assignment(): readonly TopicPartition[] {
    return this.owned;
  }

  /** False once stopped or crashed for good (not during a rebalance or a restart). */
  isRunning(): boolean {
    return this.stopping === undefined && this.crashed === undefined;
  }

  /** The error the consumer crashed with for good, if it did. */
  get crashError(): Error | undefined {
    return this.crashed;
  }

  /** Delivers the partition again from `offset` (what was fetched beyond it is dropped). */
  seek(tp: TopicPartition, offset: string): void {
    if (this.stopping === undefined) this.consumer.seek({ topic: tp.topic, partition: tp.partition, offset });
  }

  /** Stops fetching the partition for `ms`; other partitions go on. */
  pauseFor(tp: TopicPartition, ms: number): void {
    const target = [{ topic: tp.topic, partitions: [tp.partition] }];
    this.consumer.pause(target);
    const timer = setTimeout(() => {
      try {
        this.consumer.resume(target);
      } catch {
        // The consumer stopped meanwhile; nothing to resume.
      }
    }, ms);
    timer.unref();
  }

  /** Stops fetching the partition until {@link resume} (a consumer-side queue is full). */
  pause(tp: TopicPartition): void {
    try {
      this.consumer.pause([{ topic: tp.topic, partitions: [tp.partition] }]);
    } catch {
      // Not running any more: nothing is fetched anyway.
    }
  }

  resume(tp: TopicPartition): void {
    try {
      this.consumer.resume([{ topic: tp.topic, partitions: [tp.partition] }]);
    } catch {
      // Not running any more.
    }
  }

  /** Commits `next` as the partition's next offset to read (outside any transaction). */
  commit(tp: TopicPartition, next: string): Promise<void> {
    return this.commitAll([{ ...tp, next }]);
  }

  /** Commits several partitions' next offsets in one request (outside any transaction). */
  commitAll(offsets: readonly (TopicPartition & { readonly next: string })[]): Promise<void> {
    return this.consumer.commitOffsets(offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: o.next })));
  }

  /** Stops fetching, lets batches in flight finish, leaves the group. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await this.consumer.stop().catch(() => undefined);
      await this.consumer.disconnect().catch(() => undefined);
    })();
    return this.stopping;
  }

  private eachBatch(payload: EachBatchPayload): Promise<void> {
    const { topic, partition } = payload.batch;
    let revoked = false;
    const batch: ReaderBatch = {
      topic,
      partition,
      records: payload.batch.messages.map((m) => toKafkaRecord(topic, partition, m)),
      lastOffset: payload.batch.lastOffset(),
      isStale: () => revoked || !payload.isRunning() || payload.isStale(),
      heartbeat: async () => {
        try {
          await payload.heartbeat();
        } catch {
          // A rebalance is under way: finish what is done and let kafkajs rejoin.
          revoked = true;
        }
      },
      resolveOffset: (offset) => payload.resolveOffset(offset),
      commitIfNecessary: () => payload.commitOffsetsIfNecessary(),
    };
    return this.opts.handle(batch);
  }
}
