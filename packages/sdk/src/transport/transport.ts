import type { KafkaRecord } from '@troupe/kafka';
import type { Clock } from '../timers/clock.js';

/** A record to append to a topic. The partition is chosen from the key (murmur2) unless given. */
export interface OutboundRecord {
  readonly topic: string;
  readonly key: string | Buffer | null;
  readonly value: Buffer | null;
  readonly headers: Readonly<Record<string, string | Buffer>>;
  readonly partition?: number;
}

/**
 * A record as consumed, with its coordinates: `@troupe/kafka`'s record, so what the shared reader
 * delivers reaches handlers unchanged (the memory transport builds the same shape).
 */
export type InboundMessage = KafkaRecord;

/**
 * Messages of one partition number, from one or several co-partitioned topics. Each topic's
 * messages are in offset order; across the merged topics they are in timestamp order (see
 * {@link ConsumerSpec.standaloneTopics} for topics that are not merged).
 */
export interface PartitionBatch {
  readonly partition: number;
  readonly messages: readonly InboundMessage[];
  /** True once the partition was taken away (rebalance, shutdown): stop early, the outcome will be fenced. */
  isStale(): boolean;
  /**
   * Kept for handlers written against earlier versions: the transports heartbeat on their own
   * while handlers run (fetching is decoupled from handling), so this resolves at once.
   */
  heartbeat(): Promise<void>;
}

/** What a batch handler finished: the records to append and how many messages are done. */
export interface BatchOutcome {
  readonly outputs: readonly OutboundRecord[];
  /**
   * Messages from the start of the batch that are done; their offsets are committed together with
   * `outputs`. The rest is delivered again. 0 commits nothing (and appends nothing).
   */
  readonly processed: number;
  /**
   * When fewer than all messages were processed: how long to leave the partition alone before
   * delivering the rest again (it is paused meanwhile; other partitions go on).
   * @default the transport's redelivery delay
   */
  readonly retryAfterMs?: number;
  /** Called once the outputs and offsets are committed (not called when the commit fails). */
  readonly afterCommit?: () => void;
  /** Called with the error when committing the outputs and offsets failed (the batch is delivered again). */
  readonly onCommitFailed?: (error: unknown) => void;
}

/**
 * How outputs and offsets are committed.
 * - `exactly-once`: outputs and offsets in one transaction; readers at `read_committed` see a
 *   batch's outputs once or not at all.
 * - `at-least-once`: outputs are appended, then offsets committed; a crash in between repeats them.
 */
export type DeliveryMode = 'exactly-once' | 'at-least-once';

export interface ConsumerSpec {
  readonly groupId: string;
  readonly topics: readonly string[];
  /** Where a group without committed offsets starts. */
  readonly fromBeginning: boolean;
  readonly delivery: DeliveryMode;
  /** Stable prefix for transactional ids; the transport appends the partition number (ADR 0009). */
  readonly transactionalIdPrefix: string;
  /**
   * Topics of `topics` whose records are handled in their own offset order instead of merged by
   * timestamp with the other topics of the same partition number — e.g. a retry topic, whose head
   * may wait until it is due while fresh events go on. Each one gets its own lane in the
   * partition number's worker, with its own redelivery pause.
   */
  readonly standaloneTopics?: readonly string[];
  /** Upper bound of messages handed to one `handle` call (and so per transaction). */
  readonly maxBatchSize: number;
  /**
   * Partition numbers handled at the same time. Each partition number has one worker that
   * handles its topics' records one batch at a time; this bounds how many workers run a handler.
   */
  readonly concurrency: number;
  /**
   * Handles one batch: messages of one partition number, merged across the co-partitioned topics
   * in the order they were produced (record timestamp). Throwing (or resolving `processed: 0`) delivers the unprocessed messages
   * again after a pause; the transport never skips a message on its own.
   */
  handle(batch: PartitionBatch): Promise<BatchOutcome>;
  /**
   * When the handler wants to be called for a partition number without records (durable timers
   * falling due): the worker calls `handle` with an empty batch once this time (transport clock)
   * has come, and appends that batch's outputs in a transaction of their own. Asked again after
   * every batch; undefined = no wish.
   */
  wakeAt?(partition: number): number | undefined;
  /** Called with the member's topic-partitions whenever they change (joins, rebalances). */
  onAssignment?(assignment: readonly { topic: string; partition: number }[]): void;
  /**
   * Called when the consumer crashes; `restarting` is false when it stopped for good (the handle
   * is then no longer running).
   */
  onCrash?(error: Error, restarting: boolean): void;
}

export interface ConsumerHandle {
  /** Stops fetching, lets in-flight batches finish and commit, leaves the group. */
  stop(): Promise<void>;
  /** False once the consumer stopped or crashed for good (not during a rebalance or a restart). */
  isRunning(): boolean;
  /** Topic-partitions currently owned by this consumer. */
  assignment(): readonly { topic: string; partition: number }[];
  /** Sum over owned partitions of (end offset − committed offset); undefined if unknown. */
  lag(): Promise<number | undefined>;
  /** How many times the group assigned partitions to this member (joins and rebalances), if known. */
  joins?(): number;
  /** Per owned partition number: records waiting and when its last batch committed, if known. */
  workers?(): readonly {
    readonly partition: number;
    readonly queued: number;
    /** Bytes of the queued records (keys, values, headers), where the transport queues them. */
    readonly bytes?: number;
    readonly lastProgressAt: number;
    /** Why the last commit failed, while no commit succeeded since. */
    readonly lastError?: string;
  }[];
}

export interface TopicSpec {
  readonly topic: string;
  readonly partitions: number;
  /**
   * Replicas per partition. Left out, the broker's `default.replication.factor` and
   * `min.insync.replicas` apply; given, the Kafka transport also sets the topic's
   * `min.insync.replicas` to `max(1, replicationFactor - 1)` unless `config` names one.
   * @default the broker's default
   */
  readonly replicationFactor?: number;
  /** Extra topic configs, e.g. `cleanup.policy`. */
  readonly config?: Readonly<Record<string, string>>;
}

/**
 * What the SDK needs from a log-structured broker. {@link KafkaTransport} is the real one;
 * {@link MemoryTransport} has the same semantics in one process for demos and unit tests.
 */
export interface Transport {
  readonly kind: 'kafka' | 'memory';
  /**
   * Time source of the transport and its participants (retry delays, timers, deadlines).
   * @default the wall clock; the memory transport's may be a `VirtualClock`
   */
  readonly clock?: Clock;
  /** Creates the topics that do not exist; returns the partition count of every named topic. */
  ensureTopics(specs: readonly TopicSpec[]): Promise<ReadonlyMap<string, number>>;
  /** Partition counts of existing topics; missing topics are absent from the map. */
  partitionCounts(topics: readonly string[]): Promise<ReadonlyMap<string, number>>;
  /** Appends records outside any transaction (all of them or, on error, possibly a prefix). */
  send(records: readonly OutboundRecord[]): Promise<void>;
  consume(spec: ConsumerSpec): Promise<ConsumerHandle>;
  /** The group's committed offsets (next offset to read) per partition of a topic; absent = none. */
  committedOffsets(groupId: string, topic: string): Promise<ReadonlyMap<number, string>>;
  /**
   * Committed records of one partition from `fromOffset` to the end as of the call; with `last`,
   * only those among the partition's last `last` offsets.
   */
  readPartition(
    topic: string,
    partition: number,
    fromOffset: string,
    opts?: { readonly last?: number },
  ): Promise<readonly InboundMessage[]>;
  /**
   * `max.message.bytes` of the topics (what the broker accepts in one record batch), where known;
   * outputs above it are refused before sending.
   */
  maxMessageBytes?(topics: readonly string[]): Promise<ReadonlyMap<string, number>>;
  /** Broker reachable? Used by readiness checks. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
