import { withRetries } from '@troupe/core';
import { KafkaReader, type ReaderBatch, type TopicPartition } from '@troupe/kafka';
import { Partitioners, type Admin, type Kafka, type Producer } from 'kafkajs';
import type { Logger } from 'pino';
import { describeError, SdkError } from '../../errors.js';
import { Semaphore } from '../../util/semaphore.js';
import type { ConsumerHandle, ConsumerSpec, OutboundRecord } from '../transport.js';
import { accessError } from './access-errors.js';
import { CoPartitionedAssigner } from './co-partitioned-assigner.js';
import { PartitionWorker, type FlowSettings, type WorkerHost } from './partition-worker.js';

/** The consumer and transaction settings of a Kafka transport, defaults applied. */
export interface TransportSettings extends FlowSettings {
  readonly sessionTimeoutMs: number;
  readonly transactionTimeoutMs: number;
  readonly commitAttempts: number;
  readonly transactionRetryMs: number;
  readonly maxWaitTimeMs: number;
  readonly logger: Logger;
  /** The SASL user name, for access errors. */
  readonly principal: string | undefined;
}

/** What the loop uses of its transport. */
export interface LoopHost {
  readonly kafka: Kafka;
  readonly adminClient: Admin;
  committedOffsets(groupId: string, topic: string): Promise<ReadonlyMap<number, string>>;
  send(records: readonly OutboundRecord[]): Promise<void>;
}

export function toTopicMessages(records: readonly OutboundRecord[]) {
  const byTopic = new Map<
    string,
    { key: string | Buffer | null; value: Buffer | null; headers: Record<string, string | Buffer>; partition?: number }[]
  >();
  for (const r of records) {
    const list = byTopic.get(r.topic) ?? [];
    list.push({ key: r.key, value: r.value, headers: { ...r.headers }, ...(r.partition !== undefined ? { partition: r.partition } : {}) });
    byTopic.set(r.topic, list);
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
}

const isRetriableKafkaError = (err: unknown): boolean =>
  typeof err === 'object' && err !== null && 'retriable' in err && err.retriable === true;

type EndOffsets = { readonly at: number; readonly offsets: ReadonlyMap<number, { low: bigint; end: bigint }> };

/**
 * One consumer group member, read by `@troupe/kafka`'s reader. The reader's handler only hands
 * records over: each fetched batch is queued with its partition number's {@link PartitionWorker}
 * and the handler returns at once, so kafkajs fetches again and heartbeats however long handlers
 * take. Workers handle, commit, and pause or resume their partitions; a rebalance holds commits
 * until the new assignment is known and stops the workers of partition numbers given away without
 * committing anything more.
 */
export class KafkaConsumerLoop implements ConsumerHandle, WorkerHost {
  private readonly producers = new Map<number, Promise<Producer>>();
  private readonly byNumber = new Map<number, PartitionWorker>();
  /** Workers of a partition number being stopped (revoked, or replaced by one with other topics). */
  private readonly retiring = new Map<number, Promise<void>>();
  private readonly endOffsetReads = new Map<string, { startedAt: number; result: Promise<EndOffsets> }>();
  private reader: KafkaReader | undefined;
  private owned: readonly TopicPartition[] = [];
  private stopping: Promise<void> | undefined;
  private crashed: string | undefined;
  /** Set from "rebalancing" until the next group join: commits wait for it. */
  private rebalance: { done: Promise<void>; settle: () => void } | undefined;
  readonly semaphore: Semaphore;
  /** How many times the group assigned partitions to this member (joins and rejoins). */
  generations = 0;

  private constructor(
    private readonly transport: LoopHost,
    readonly spec: ConsumerSpec,
    private readonly opts: TransportSettings,
  ) {
    this.semaphore = new Semaphore(spec.concurrency);
  }

  get flow(): FlowSettings {
    return this.opts;
  }

  static async start(transport: LoopHost, spec: ConsumerSpec, opts: TransportSettings): Promise<KafkaConsumerLoop> {
    const loop = new KafkaConsumerLoop(transport, spec, opts);
    try {
      loop.reader = await KafkaReader.start(transport.kafka, {
        groupId: spec.groupId,
        topics: spec.topics,
        fromBeginning: spec.fromBeginning,
        commits: 'manual',
        // Handing over is instant; handling concurrency is the workers' semaphore.
        concurrency: 1,
        sessionTimeoutMs: opts.sessionTimeoutMs,
        maxWaitTimeMs: opts.maxWaitTimeMs,
        partitionAssigners: [CoPartitionedAssigner],
        handle: (batch) => Promise.resolve(loop.handOver(batch)),
        onAssignment: (owned) => loop.assign(owned),
        onRebalancing: () => loop.holdCommits(),
        // Batches of only transaction markers or aborted records never reach the handler; the
        // fetcher moved past them all the same, which the merge needs to know.
        onSkipped: (tp, next) => loop.byNumber.get(tp.partition)?.fetchedUpTo(tp.topic, BigInt(next)),
        onCrash: (error, restarting) => {
          if (restarting) {
            // kafkajs restarts the consumer and rejoins: commits wait for the new assignment.
            loop.holdCommits();
          } else {
            const denied = accessError(error, `consumer group ${spec.groupId}`, opts.principal);
            loop.crashed = describeError(denied ?? error);
            opts.logger.error(
              { groupId: spec.groupId, err: loop.crashed, ...(denied ? { code: denied.code } : {}) },
              'the Kafka consumer crashed for good',
            );
            void loop.revokeAll();
          }
          spec.onCrash?.(error, restarting);
        },
      });
    } catch (err) {
      const denied = accessError(err, `starting consumer group ${spec.groupId} on ${spec.topics.join(', ')}`, opts.principal);
      if (denied) throw denied;
      throw new SdkError('TRANSPORT_ERROR', describeError(err), { cause: err });
    }
    return loop;
  }

  assignment(): readonly TopicPartition[] {
    return this.owned;
  }

  isRunning(): boolean {
    return this.stopping === undefined && this.crashed === undefined && (this.reader?.isRunning() ?? false);
  }

  /** Why the consumer stopped for good, if it crashed. */
  crashReason(): string | undefined {
    return this.crashed;
  }

  /** Per owned partition number: records queued and when a batch last committed. */
  workerStates(): readonly { partition: number; queued: number; bytes: number; lastProgressAt: number; lastError?: string }[] {
    return [...this.byNumber.values()].map((w) => {
      const q = w.queued();
      const base = { partition: w.partition, queued: q.records, bytes: q.bytes, lastProgressAt: w.lastProgressAt };
      return w.lastError === undefined ? base : { ...base, lastError: w.lastError };
    });
  }

  async lag(): Promise<number | undefined> {
    if (this.owned.length === 0) return 0;
    try {
      const admin = this.transport.adminClient;
      const topics = [...new Set(this.owned.map((o) => o.topic))];
      const committed = await admin.fetchOffsets({ groupId: this.spec.groupId, topics });
      let lag = 0;
      for (const topic of topics) {
        const ends = await admin.fetchTopicOffsets(topic);
        const c = committed.find((x) => x.topic === topic);
        for (const { partition } of this.owned.filter((o) => o.topic === topic)) {
          const end = Number(ends.find((e) => e.partition === partition)?.high ?? 0);
          const at = Number(c?.partitions.find((p) => p.partition === partition)?.offset ?? -1);
          lag += Math.max(0, end - Math.max(0, at));
        }
      }
      return lag;
    } catch {
      return undefined;
    }
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      // Workers finish (and commit) the batch in flight and take no more; then the member leaves.
      this.settleRebalance();
      await Promise.all([...this.byNumber.values()].map((w) => w.stop('finish')));
      this.byNumber.clear();
      await this.reader?.stop();
      const producers = await Promise.allSettled(this.producers.values());
      this.producers.clear();
      for (const p of producers) if (p.status === 'fulfilled') await p.value.disconnect().catch(() => undefined);
    })();
    return this.stopping;
  }

  // ---- reader side: hand over and return ----

  private handOver(batch: ReaderBatch): void {
    const worker = this.byNumber.get(batch.partition);
    const last = batch.records[batch.records.length - 1];
    if (!worker || !last) return;
    // The fetch position moves on now (the reader also skips a trailing transaction marker); what
    // is committed is the worker's business.
    if (worker.enqueue(batch.topic, batch.records, batch.lastOffset)) batch.resolveOffset(last.offset);
  }

  private holdCommits(): void {
    if (this.rebalance) return;
    let settle!: () => void;
    const done = new Promise<void>((r) => (settle = r));
    this.rebalance = { done, settle };
  }

  private settleRebalance(): void {
    const r = this.rebalance;
    this.rebalance = undefined;
    r?.settle();
  }

  /** A (re)join: workers of partition numbers given away stop; new ones start; held commits go on. */
  private assign(owned: readonly TopicPartition[]): void {
    this.generations += 1;
    this.owned = owned;
    const topicsOf = new Map<number, string[]>();
    for (const { topic, partition } of owned) topicsOf.set(partition, [...(topicsOf.get(partition) ?? []), topic]);
    for (const [partition, worker] of this.byNumber) {
      const topics = topicsOf.get(partition);
      if (topics && topics.length === worker.topics.length && topics.every((t) => worker.topics.includes(t))) continue;
      this.byNumber.delete(partition);
      worker.revoked = true;
      const retired = this.retire(partition, worker);
      this.retiring.set(partition, retired);
      void retired.finally(() => {
        if (this.retiring.get(partition) === retired) this.retiring.delete(partition);
      });
    }
    if (this.stopping === undefined && this.crashed === undefined) {
      for (const [partition, topics] of topicsOf) {
        if (this.byNumber.has(partition)) continue;
        const worker = new PartitionWorker(partition, topics, this);
        this.byNumber.set(partition, worker);
        worker.start();
      }
    }
    this.settleRebalance();
    this.spec.onAssignment?.(owned);
  }

  /** Stops a worker that lost its partition number and closes its producer (taking it back fences again). */
  private async retire(partition: number, worker: PartitionWorker): Promise<void> {
    await worker.stop('revoked');
    if (this.byNumber.has(partition)) return;
    this.dropProducer(partition);
  }

  private async revokeAll(): Promise<void> {
    const workers = [...this.byNumber.values()];
    this.byNumber.clear();
    this.settleRebalance();
    await Promise.all(workers.map((w) => w.stop('revoked')));
  }

  // ---- WorkerHost ----

  pause(topic: string, partition: number): void {
    this.reader?.pause({ topic, partition });
  }

  resume(topic: string, partition: number): void {
    this.reader?.resume({ topic, partition });
  }

  seek(topic: string, partition: number, offset: string): void {
    try {
      this.reader?.seek({ topic, partition }, offset);
    } catch (err) {
      this.opts.logger.warn({ topic, partition, offset, err: describeError(err) }, 'cannot move the fetch position');
    }
  }

  async takeOver(partition: number, topics: readonly string[]): Promise<ReadonlyMap<string, bigint | undefined>> {
    // A worker this member just replaced (same number, other topics) shares the producer and may
    // still be committing: read the committed offsets only once it has stopped.
    await this.retiring.get(partition);
    if (this.spec.delivery === 'exactly-once') await this.transactionalProducer(partition);
    const committed = new Map<string, bigint | undefined>();
    for (const topic of topics) {
      const c = (await this.transport.committedOffsets(this.spec.groupId, topic)).get(partition);
      committed.set(topic, c === undefined ? undefined : BigInt(c));
    }
    return committed;
  }

  async endOffsets(
    topics: readonly string[],
    partition: number,
    notBefore: number,
  ): Promise<{ at: number; offsets: ReadonlyMap<string, { low: bigint; end: bigint }> }> {
    let at = Number.POSITIVE_INFINITY;
    const offsets = new Map<string, { low: bigint; end: bigint }>();
    for (const topic of topics) {
      const r = await this.endOffsetsOf(topic, notBefore);
      at = Math.min(at, r.at);
      const o = r.offsets.get(partition);
      if (o) offsets.set(topic, o);
    }
    return { at: Number.isFinite(at) ? at : Date.now(), offsets };
  }

  /** One read per topic serves every worker that asks for a read started no earlier than its own need. */
  private endOffsetsOf(topic: string, notBefore: number): Promise<EndOffsets> {
    const current = this.endOffsetReads.get(topic);
    if (current && current.startedAt >= notBefore) return current.result;
    const startedAt = Date.now();
    const result = this.transport.adminClient.fetchTopicOffsets(topic).then((list) => ({
      at: startedAt,
      offsets: new Map(list.map((o) => [o.partition, { low: BigInt(o.low), end: BigInt(o.high) }])),
    }));
    const entry = { startedAt, result };
    this.endOffsetReads.set(topic, entry);
    result.catch(() => {
      if (this.endOffsetReads.get(topic) === entry) this.endOffsetReads.delete(topic);
    });
    return result;
  }

  async mayCommit(worker: PartitionWorker): Promise<boolean> {
    while (this.rebalance && !worker.revoked) await this.rebalance.done;
    return !worker.revoked && this.crashed === undefined;
  }

  async commit(partition: number, outputs: readonly OutboundRecord[], offsets: ReadonlyMap<string, string>): Promise<void> {
    const topics = [...offsets].map(([topic, offset]) => ({ topic, partitions: [{ partition, offset }] }));
    if (this.spec.delivery === 'at-least-once') {
      if (outputs.length > 0) await this.transport.send(outputs);
      if (offsets.size > 0) await this.reader?.commitAll([...offsets].map(([topic, next]) => ({ topic, partition, next })));
      return;
    }
    let txStillOpen = false;
    const result = await withRetries(
      async () => {
        const producer = await this.transactionalProducer(partition);
        let tx: Awaited<ReturnType<Producer['transaction']>> | undefined;
        try {
          tx = await producer.transaction();
          if (outputs.length > 0) await tx.sendBatch({ topicMessages: toTopicMessages(outputs) });
          if (topics.length > 0) await tx.sendOffsets({ consumerGroupId: this.spec.groupId, topics });
          await tx.commit();
        } catch (err) {
          if (tx?.isActive()) await tx.abort().catch(() => undefined);
          txStillOpen = tx?.isActive() ?? false;
          throw err;
        }
      },
      {
        attempts: this.opts.commitAttempts,
        delayMs: (failures) => 50 * failures,
        // Retriable broker answers (the coordinator still finishing the previous commit) are worth
        // another transaction with the same outputs; aborted records are never visible.
        retryOn: (err) => isRetriableKafkaError(err) && !txStillOpen,
      },
    );
    // The worker drops the producer (a fenced or broken one is replaced) and takes over again.
    if (!result.ok) throw result.error;
  }

  /** A broker refusal of access, typed and saying what to grant; undefined for other errors. */
  accessProblem(err: unknown, action: string): SdkError | undefined {
    return accessError(err, action, this.opts.principal);
  }

  /** A fenced or broken producer is replaced; re-initialising the id fences again. */
  dropProducer(partition: number): void {
    const p = this.producers.get(partition);
    if (!p) return;
    this.producers.delete(partition);
    p.then((x) => x.disconnect()).catch(() => undefined);
  }

  /**
   * The partition number's transactional producer, `<prefix>-<partition>`. Whoever owns partition
   * number p uses this id, so initialising it fences the previous owner (see the SDK README).
   */
  private transactionalProducer(partition: number): Promise<Producer> {
    let p = this.producers.get(partition);
    if (!p) {
      const producer = this.transport.kafka.producer({
        transactionalId: `${this.spec.transactionalIdPrefix}-${partition}`,
        idempotent: true,
        maxInFlightRequests: 1,
        transactionTimeout: this.opts.transactionTimeoutMs,
        // A shorter first delay (see transactionRetryMs) and 8 retries instead of 5, so a broker
        // fail-over is still waited out for as long as with kafkajs's defaults.
        retry: { initialRetryTime: this.opts.transactionRetryMs, retries: 8 },
        createPartitioner: Partitioners.DefaultPartitioner,
      });
      // kafkajs registers the transactional id (InitProducerId, which fences every earlier
      // producer with this id) only at the first transaction(): do it now, with an empty one.
      p = producer.connect().then(async () => {
        const init = await producer.transaction();
        await init.abort();
        return producer;
      });
      const entry = p;
      p.catch(() => {
        if (this.producers.get(partition) === entry) this.producers.delete(partition);
        void producer.disconnect().catch(() => undefined);
      });
      this.producers.set(partition, p);
    }
    return p;
  }
}
