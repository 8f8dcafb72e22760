import { withRetries } from '@troupe/core';
import { KafkaReader, nextOffset, type ReaderBatch, type TopicPartition } from '@troupe/kafka';
import { Partitioners, type Admin, type Kafka, type Producer } from 'kafkajs';
import type { Logger } from 'pino';
import { describeError, SdkError } from '../../errors.js';
import type { ConsumerHandle, ConsumerSpec, OutboundRecord } from '../transport.js';
import { accessError } from './access-errors.js';
import { CoPartitionedAssigner } from './co-partitioned-assigner.js';

/** The consumer and transaction settings of a Kafka transport, defaults applied. */
export interface TransportSettings {
  readonly sessionTimeoutMs: number;
  readonly transactionTimeoutMs: number;
  readonly redeliveryDelayMs: number;
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
  const byTopic = new Map<string, { key: string | Buffer | null; value: Buffer | null; headers: Record<string, string | Buffer>; partition?: number }[]>();
  for (const r of records) {
    const list = byTopic.get(r.topic) ?? [];
    list.push({ key: r.key, value: r.value, headers: { ...r.headers }, ...(r.partition !== undefined ? { partition: r.partition } : {}) });
    byTopic.set(r.topic, list);
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
}

const isRetriableKafkaError = (err: unknown): boolean =>
  typeof err === 'object' && err !== null && 'retriable' in err && err.retriable === true;

const keyOf = (tp: TopicPartition): string => `${tp.topic}-${tp.partition}`;

/**
 * One consumer group member (read by `@troupe/kafka`'s reader) and its per-partition
 * transactional producers: batches are cut to `maxBatchSize`, handled, and committed with their
 * outputs; what is not processed is delivered again after a pause.
 */
export class KafkaConsumerLoop implements ConsumerHandle {
  private readonly producers = new Map<string, Promise<Producer>>();
  private reader: KafkaReader | undefined;
  private stopping: Promise<void> | undefined;

  private constructor(
    private readonly transport: LoopHost,
    private readonly spec: ConsumerSpec,
    private readonly opts: TransportSettings,
  ) {}

  static async start(transport: LoopHost, spec: ConsumerSpec, opts: TransportSettings): Promise<KafkaConsumerLoop> {
    const loop = new KafkaConsumerLoop(transport, spec, opts);
    try {
      loop.reader = await KafkaReader.start(transport.kafka, {
        groupId: spec.groupId,
        topics: spec.topics,
        fromBeginning: spec.fromBeginning,
        commits: 'manual',
        concurrency: spec.concurrency,
        sessionTimeoutMs: opts.sessionTimeoutMs,
        maxWaitTimeMs: opts.maxWaitTimeMs,
        partitionAssigners: [CoPartitionedAssigner],
        handle: (batch) => loop.eachBatch(batch),
        onAssignment: (owned) => {
          loop.dropProducersNotOwned(owned);
          spec.onAssignment?.(owned);
        },
        onCrash: (error, restarting) => {
          // kafkajs restarts the consumer after retriable crashes; a final one may be a refusal.
          const denied = restarting ? undefined : accessError(error, `consumer group ${spec.groupId}`, opts.principal);
          if (denied) opts.logger.error({ code: denied.code, groupId: spec.groupId }, denied.message);
          spec.onCrash?.(denied ?? error, restarting);
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
    return this.reader?.assignment() ?? [];
  }

  isRunning(): boolean {
    return this.stopping === undefined && (this.reader?.isRunning() ?? false);
  }

  async lag(): Promise<number | undefined> {
    const owned = this.assignment();
    if (owned.length === 0) return 0;
    try {
      const admin = this.transport.adminClient;
      const topics = [...new Set(owned.map((o) => o.topic))];
      const committed = await admin.fetchOffsets({ groupId: this.spec.groupId, topics });
      let lag = 0;
      for (const topic of topics) {
        const ends = await admin.fetchTopicOffsets(topic);
        const c = committed.find((x) => x.topic === topic);
        for (const { partition } of owned.filter((o) => o.topic === topic)) {
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
      // The reader's stop waits for the batches in flight; they finish or commit what they did.
      await this.reader?.stop();
      const producers = await Promise.allSettled(this.producers.values());
      for (const p of producers) if (p.status === 'fulfilled') await p.value.disconnect().catch(() => undefined);
    })();
    return this.stopping;
  }

  private async eachBatch(batch: ReaderBatch): Promise<void> {
    const reader = this.reader;
    const messages = batch.records;
    if (!reader || !(await this.fenceEarlierOwner(batch, messages[0]?.offset))) return;
    let i = 0;
    while (i < messages.length) {
      if (batch.isStale()) return;
      const chunk = messages.slice(i, i + this.spec.maxBatchSize);
      const first = chunk[0];
      if (!first) return;
      let processed = 0;
      let retryAfterMs = this.opts.redeliveryDelayMs;
      try {
        const outcome = await this.spec.handle({
          topic: batch.topic,
          partition: batch.partition,
          messages: chunk,
          isStale: () => batch.isStale(),
          heartbeat: () => batch.heartbeat(),
        });
        processed = Math.max(0, Math.min(outcome.processed, chunk.length));
        if (outcome.retryAfterMs !== undefined) retryAfterMs = outcome.retryAfterMs;
        const last = chunk[processed - 1];
        if (last) {
          await this.commit(batch, outcome.outputs, nextOffset(last.offset));
          batch.resolveOffset(last.offset);
          outcome.afterCommit?.();
        }
      } catch (err) {
        this.logUncommitted(batch, first.offset, err);
        processed = 0;
      }
      if (processed < chunk.length) {
        // Deliver the rest again: seek drops what was fetched beyond this point. The partition is
        // paused instead of waited for here, because kafkajs fetches again only after every batch
        // of the last fetch is done: a wait here would hold up all partitions.
        const from = chunk[processed];
        if (from && reader.isRunning()) {
          reader.seek(batch, from.offset);
          if (processed === 0 || retryAfterMs !== this.opts.redeliveryDelayMs) reader.pauseFor(batch, retryAfterMs);
        }
        return;
      }
      i += processed;
      await batch.heartbeat();
    }
  }

  private logUncommitted(tp: TopicPartition, offset: string, err: unknown): void {
    const denied = accessError(err, `committing outputs of ${tp.topic}-${tp.partition}`, this.opts.principal);
    const where = { topic: tp.topic, partition: tp.partition, offset };
    // Nothing is lost (the batch is delivered again), but a refusal cannot succeed until an operator acts.
    if (denied) this.opts.logger.error({ ...where, code: denied.code }, `${denied.message} The batch will be delivered again.`);
    else this.opts.logger.warn({ ...where, err: describeError(err) }, 'batch not committed; it will be delivered again');
  }

  /**
   * Before this instance handles a partition with a new transactional producer, that producer's
   * initialisation fences the partition's earlier owner: the broker completes or aborts its open
   * transaction first. Only then is the committed offset final — the offset this consumer started
   * from was read before, and a zombie may have committed past it since. Returns false (after
   * seeking to the committed offset) when the batch was already handled by the earlier owner.
   */
  private async fenceEarlierOwner(tp: TopicPartition, firstOffset: string | undefined): Promise<boolean> {
    if (this.spec.delivery !== 'exactly-once' || this.producers.has(keyOf(tp)) || firstOffset === undefined) return true;
    await this.transactionalProducer(keyOf(tp));
    const committed = (await this.transport.committedOffsets(this.spec.groupId, tp.topic)).get(tp.partition);
    if (committed === undefined || BigInt(committed) <= BigInt(firstOffset)) return true;
    this.opts.logger.warn({ topic: tp.topic, partition: tp.partition, fetchedFrom: firstOffset, committed }, 'an earlier owner committed past the fetched offset; skipping ahead');
    this.reader?.seek(tp, committed);
    return false;
  }

  /** Producers of partitions given away are closed, so taking one back fences (and re-checks) again. */
  private dropProducersNotOwned(owned: readonly TopicPartition[]): void {
    const keep = new Set(owned.map(keyOf));
    for (const [key, producer] of this.producers) {
      if (keep.has(key)) continue;
      this.producers.delete(key);
      producer.then((p) => p.disconnect()).catch(() => undefined);
    }
  }

  private async commit(tp: TopicPartition, outputs: readonly OutboundRecord[], next: string): Promise<void> {
    if (this.spec.delivery === 'at-least-once') {
      if (outputs.length > 0) await this.transport.send(outputs);
      await this.reader?.commit(tp, next);
      return;
    }
    const key = keyOf(tp);
    const offsets = { topics: [{ topic: tp.topic, partitions: [{ partition: tp.partition, offset: next }] }] };
    let txStillOpen = false;
    const result = await withRetries(
      async () => {
        const producer = await this.transactionalProducer(key);
        let tx: Awaited<ReturnType<Producer['transaction']>> | undefined;
        try {
          tx = await producer.transaction();
          if (outputs.length > 0) await tx.sendBatch({ topicMessages: toTopicMessages(outputs) });
          await tx.sendOffsets({ consumerGroupId: this.spec.groupId, ...offsets });
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
    if (result.ok) return;
    // A fenced or broken producer is replaced; re-initialising bumps the epoch again.
    const producer = this.producers.get(key);
    this.producers.delete(key);
    await producer?.then((p) => p.disconnect()).catch(() => undefined);
    throw result.error;
  }

  private transactionalProducer(key: string): Promise<Producer> {
    let p = this.producers.get(key);
    if (!p) {
      const producer = this.transport.kafka.producer({
        transactionalId: `${this.spec.transactionalIdPrefix}-${key}`,
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
      p.catch(() => this.producers.delete(key));
      this.producers.set(key, p);
    }
    return p;
  }
}
