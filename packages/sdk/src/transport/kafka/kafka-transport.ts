import {
  Kafka,
  logLevel,
  Partitioners,
  type Admin,
  type Consumer,
  type EachBatchPayload,
  type KafkaConfig,
  type Producer,
  type SASLOptions,
} from 'kafkajs';
import type { ConnectionOptions } from 'node:tls';
import { pino, type Logger } from 'pino';
import { accessError, rethrowAccess } from './access-errors.js';
import { CoPartitionedAssigner } from './co-partitioned-assigner.js';
import { describeError, SdkError } from '../../errors.js';
import { withRetries } from '@troupe/core';
import { sleep } from '../../util/semaphore.js';
import { readTopicToEnd } from './topic-reader.js';
import type {
  ConsumerHandle,
  ConsumerSpec,
  InboundMessage,
  OutboundRecord,
  TopicSpec,
  Transport,
} from '../transport.js';

export interface KafkaTransportOptions {
  /** Bootstrap brokers, `host:port`. */
  readonly brokers: readonly string[];
  /** @default 'troupe' */
  readonly clientId?: string;
  /** Passed to kafkajs unchanged. */
  readonly ssl?: boolean | ConnectionOptions;
  /** Passed to kafkajs unchanged (plain, scram-sha-256/512, aws, oauthbearer). */
  readonly sasl?: SASLOptions;
  /** @default 10_000 */
  readonly connectionTimeoutMs?: number;
  /** @default 30_000 */
  readonly requestTimeoutMs?: number;
  /**
   * Consumer group session timeout.
   * @default 30_000
   */
  readonly sessionTimeoutMs?: number;
  /**
   * Transaction timeout; a transaction open longer (a crashed instance's) is aborted by the broker.
   * @default 60_000
   */
  readonly transactionTimeoutMs?: number;
  /**
   * Pause before a batch whose handler threw (or whose commit failed) is fetched again.
   * @default 200
   */
  readonly redeliveryDelayMs?: number;
  /**
   * Longest a fetch waits for new records. Also bounds how late a resumed (paused) partition is
   * fetched again, since a new fetch starts only when the current one returns.
   * @default 500 (as Java's fetch.max.wait.ms)
   */
  readonly maxWaitTimeMs?: number;
  /**
   * kafkajs's own log lines go to this pino logger (kafkajs ERROR → pino error, WARN → warn, ...).
   * @default pino at level 'warn'
   */
  readonly logger?: Logger;
  /**
   * Attempts of one batch's transaction when the broker answers with a retriable error (e.g.
   * CONCURRENT_TRANSACTIONS right after the previous commit), before the batch is redelivered.
   * @default 5
   */
  readonly commitAttempts?: number;
}

/**
 * The real transport, on kafkajs. Exactly-once delivery: per input partition one transactional
 * producer (`<prefix>-<topic>-<partition>`) appends a batch's outputs and commits its offsets with
 * `sendOffsets` in one transaction; consumers read `read_committed`. See the package README for why
 * the transactional id follows the partition (zombie fencing).
 */
export class KafkaTransport implements Transport {
  readonly kind = 'kafka' as const;
  readonly kafka: Kafka;
  private readonly admin: Admin;
  private producer: Producer | undefined;
  private producerConnecting: Promise<Producer> | undefined;
  private readonly consumers = new Set<ConsumerHandle>();
  private closed = false;

  private constructor(
    private readonly opts: Required<Omit<KafkaTransportOptions, 'ssl' | 'sasl'>> & Pick<KafkaTransportOptions, 'ssl' | 'sasl'>,
  ) {
    const log = opts.logger.child({ component: 'kafkajs' });
    const config: KafkaConfig = {
      clientId: opts.clientId,
      brokers: [...opts.brokers],
      connectionTimeout: opts.connectionTimeoutMs,
      requestTimeout: opts.requestTimeoutMs,
      logLevel: logLevel.INFO,
      logCreator: () => (entry) => {
        const { message, ...extra } = entry.log;
        const fields = { namespace: entry.namespace, ...extra };
        if (entry.level === logLevel.ERROR) log.error(fields, message);
        else if (entry.level === logLevel.WARN) log.warn(fields, message);
        else if (entry.level === logLevel.INFO) log.info(fields, message);
        else log.debug(fields, message);
      },
      ...(opts.ssl !== undefined ? { ssl: opts.ssl } : {}),
      ...(opts.sasl !== undefined ? { sasl: opts.sasl } : {}),
    };
    this.kafka = new Kafka(config);
    this.admin = this.kafka.admin();
  }

  /** Connects the admin client (so a wrong address fails here, with advice) and returns the transport. */
  static async create(options: KafkaTransportOptions): Promise<KafkaTransport> {
    const brokers = options?.brokers;
    if (!Array.isArray(brokers) || brokers.length === 0 || brokers.some((b) => typeof b !== 'string' || !/^[^:\s]+:\d+$/.test(b))) {
      throw new SdkError('CONFIG_INVALID', `brokers must be a non-empty list of 'host:port' (got ${JSON.stringify(brokers)})`);
    }
    const t = new KafkaTransport({
      brokers,
      clientId: options.clientId ?? 'troupe',
      connectionTimeoutMs: options.connectionTimeoutMs ?? 10_000,
      requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
      sessionTimeoutMs: options.sessionTimeoutMs ?? 30_000,
      transactionTimeoutMs: options.transactionTimeoutMs ?? 60_000,
      redeliveryDelayMs: options.redeliveryDelayMs ?? 200,
      logger: options.logger ?? pino({ name: 'troupe-kafka', level: 'warn' }),
      commitAttempts: options.commitAttempts ?? 5,
      maxWaitTimeMs: options.maxWaitTimeMs ?? 500,
      ssl: options.ssl,
      sasl: options.sasl,
    });
    try {
      await t.admin.connect();
    } catch (err) {
      const denied = accessError(err, `connecting to Kafka at ${brokers.join(',')}`, t.principal);
      if (denied) throw denied;
      throw new SdkError('TRANSPORT_ERROR', `cannot connect to Kafka at ${brokers.join(',')}: ${describeError(err)}. Is the broker up, and are ssl/sasl right?`, {
        cause: err,
      });
    }
    return t;
  }

  /** The SASL user name, for error messages; undefined without SASL. */
  get principal(): string | undefined {
    const sasl = this.opts.sasl as { username?: unknown } | undefined;
    return typeof sasl?.username === 'string' ? sasl.username : undefined;
  }

  async partitionCounts(topics: readonly string[]): Promise<ReadonlyMap<string, number>> {
    this.assertOpen();
    // Without DESCRIBE on a topic the broker leaves it out of the list: it then counts as missing,
    // and creating it fails with NOT_AUTHORIZED naming the topic.
    const existing = new Set(await this.admin.listTopics().catch((err: unknown) => rethrowAccess(err, 'listing topics', this.principal)));
    const wanted = topics.filter((t) => existing.has(t));
    const counts = new Map<string, number>();
    if (wanted.length === 0) return counts;
    const meta = await this.admin.fetchTopicMetadata({ topics: wanted }).catch((err: unknown) => rethrowAccess(err, `reading metadata of ${wanted.join(', ')}`, this.principal));
    for (const t of meta.topics) counts.set(t.name, t.partitions.length);
    return counts;
  }

  async ensureTopics(specs: readonly TopicSpec[]): Promise<ReadonlyMap<string, number>> {
    this.assertOpen();
    const existing = await this.partitionCounts(specs.map((s) => s.topic));
    const missing = specs.filter((s) => !existing.has(s.topic));
    if (missing.length > 0) {
      try {
        await this.admin.createTopics({
          waitForLeaders: true,
          topics: missing.map((s) => ({
            topic: s.topic,
            numPartitions: s.partitions,
            replicationFactor: s.replicationFactor,
            configEntries: Object.entries(s.config ?? {}).map(([name, value]) => ({ name, value })),
          })),
        });
      } catch (err) {
        const denied = accessError(err, `creating topics ${missing.map((s) => s.topic).join(', ')}`, this.principal);
        if (denied) throw denied;
        // Another instance may be creating the same topics at this moment: kafkajs then reports
        // "already exists", or — while it waits for leaders of a topic it did not create —
        // "does not host this topic-partition" (retriable). Re-reading the metadata settles both.
        const retriable = typeof err === 'object' && err !== null && (err as { retriable?: unknown }).retriable === true;
        if (!retriable && !/already exists/i.test(describeError(err))) {
          throw new SdkError('TRANSPORT_ERROR', `cannot create topics ${missing.map((s) => s.topic).join(', ')}: ${describeError(err)}`, {
            cause: err,
          });
        }
      }
      // Metadata may lag topic creation for a moment.
      for (let i = 0; i < 100; i++) {
        const counts = await this.partitionCounts(specs.map((s) => s.topic));
        if (counts.size === specs.length) return counts;
        await sleep(100);
      }
      const still = await this.partitionCounts(specs.map((s) => s.topic));
      const absent = specs.filter((s) => !still.has(s.topic)).map((s) => s.topic);
      if (absent.length > 0) {
        throw new SdkError('TRANSPORT_ERROR', `topics ${absent.join(', ')} still do not exist 10 s after creating them; check the broker log and its topic-creation limits.`);
      }
      return still;
    }
    return this.partitionCounts(specs.map((s) => s.topic));
  }

  async send(records: readonly OutboundRecord[]): Promise<void> {
    this.assertOpen();
    const topics = [...new Set(records.map((r) => r.topic))].join(', ');
    try {
      const producer = await this.plainProducer();
      await producer.sendBatch({ topicMessages: toTopicMessages(records) });
    } catch (err) {
      rethrowAccess(err, `writing to ${topics}`, this.principal);
    }
  }

  async committedOffsets(groupId: string, topic: string): Promise<ReadonlyMap<number, string>> {
    this.assertOpen();
    const [entry] = await this.admin.fetchOffsets({ groupId, topics: [topic] });
    return new Map((entry?.partitions ?? []).filter((p) => BigInt(p.offset) >= 0n).map((p) => [p.partition, p.offset]));
  }

  readPartition(topic: string, partition: number, fromOffset: string): Promise<readonly InboundMessage[]> {
    this.assertOpen();
    return readTopicToEnd(this.kafka, topic, { partition, fromOffset });
  }

  async ping(): Promise<void> {
    this.assertOpen();
    await this.admin.describeCluster();
  }

  async consume(spec: ConsumerSpec): Promise<ConsumerHandle> {
    this.assertOpen();
    const handle = await KafkaConsumerLoop.start(this, spec, this.opts);
    this.consumers.add(handle);
    return {
      stop: async () => {
        this.consumers.delete(handle);
        await handle.stop();
      },
      isRunning: () => handle.isRunning(),
      assignment: () => handle.assignment(),
      lag: () => handle.lag(),
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.consumers].map((c) => c.stop()));
    await this.producer?.disconnect();
    await this.admin.disconnect();
  }

  /** @internal Offsets lookups for lag. */
  get adminClient(): Admin {
    return this.admin;
  }

  private assertOpen(): void {
    if (this.closed) throw new SdkError('CLOSED', 'the Kafka transport is closed; create a new one');
  }

  private plainProducer(): Promise<Producer> {
    if (this.producer) return Promise.resolve(this.producer);
    this.producerConnecting ??= (async () => {
      const p = this.kafka.producer({ idempotent: true, createPartitioner: Partitioners.DefaultPartitioner });
      await p.connect();
      this.producer = p;
      return p;
    })();
    this.producerConnecting.catch(() => (this.producerConnecting = undefined));
    return this.producerConnecting;
  }
}

function toTopicMessages(records: readonly OutboundRecord[]) {
  const byTopic = new Map<string, { key: string | Buffer | null; value: Buffer | null; headers: Record<string, string | Buffer>; partition?: number }[]>();
  for (const r of records) {
    const list = byTopic.get(r.topic) ?? [];
    list.push({ key: r.key, value: r.value, headers: { ...r.headers }, ...(r.partition !== undefined ? { partition: r.partition } : {}) });
    byTopic.set(r.topic, list);
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
}

interface LoopOptions {
  readonly transactionTimeoutMs: number;
  readonly redeliveryDelayMs: number;
  readonly commitAttempts: number;
  readonly logger: Logger;
}

const isRetriableKafkaError = (err: unknown): boolean =>
  typeof err === 'object' && err !== null && 'retriable' in err && (err).retriable === true;

/** One consumer group member and its per-partition transactional producers. */
class KafkaConsumerLoop implements ConsumerHandle {
  private readonly producers = new Map<string, Promise<Producer>>();
  private owned: { topic: string; partition: number }[] = [];
  private stopping: Promise<void> | undefined;
  private crashed: string | undefined;

  private constructor(
    private readonly transport: KafkaTransport,
    private readonly consumer: Consumer,
    private readonly spec: ConsumerSpec,
    private readonly opts: LoopOptions,
  ) {}

  static async start(
    transport: KafkaTransport,
    spec: ConsumerSpec,
    opts: LoopOptions & { sessionTimeoutMs: number; maxWaitTimeMs: number },
  ): Promise<KafkaConsumerLoop> {
    const consumer = transport.kafka.consumer({
      groupId: spec.groupId,
      readUncommitted: false,
      sessionTimeout: opts.sessionTimeoutMs,
      heartbeatInterval: Math.max(1000, Math.floor(opts.sessionTimeoutMs / 10)),
      allowAutoTopicCreation: false,
      partitionAssigners: [CoPartitionedAssigner],
      maxWaitTimeInMs: opts.maxWaitTimeMs,
    });
    const loop = new KafkaConsumerLoop(transport, consumer, spec, opts);
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      loop.owned = Object.entries(e.payload.memberAssignment).flatMap(([topic, parts]) => parts.map((partition) => ({ topic, partition })));
      loop.dropProducersNotOwned();
      spec.onAssignment?.(loop.owned);
    });
    consumer.on(consumer.events.CRASH, (e) => {
      // kafkajs restarts the consumer after retriable crashes; only a final one makes it not live.
      if (!e.payload.restart) {
        const denied = accessError(e.payload.error, `consumer group ${spec.groupId}`, transport.principal);
        loop.crashed = describeError(denied ?? e.payload.error);
        if (denied) opts.logger.error({ code: denied.code, groupId: spec.groupId }, denied.message);
      }
    });
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [...spec.topics], fromBeginning: spec.fromBeginning });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: spec.concurrency,
        eachBatch: (payload) => loop.eachBatch(payload),
      });
    } catch (err) {
      await consumer.disconnect().catch(() => undefined);
      const denied = accessError(err, `starting consumer group ${spec.groupId} on ${spec.topics.join(', ')}`, transport.principal);
      if (denied) throw denied;
      throw new SdkError('TRANSPORT_ERROR', `cannot start consumer group ${spec.groupId} on ${spec.topics.join(', ')}: ${describeError(err)}`, {
        cause: err,
      });
    }
    return loop;
  }

  assignment(): readonly { topic: string; partition: number }[] {
    return this.owned;
  }

  isRunning(): boolean {
    return this.stopping === undefined && this.crashed === undefined;
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
      // kafkajs's stop waits for the batches in flight; they finish or commit what they did.
      await this.consumer.stop().catch(() => undefined);
      await this.consumer.disconnect().catch(() => undefined);
      const producers = await Promise.allSettled(this.producers.values());
      for (const p of producers) if (p.status === 'fulfilled') await p.value.disconnect().catch(() => undefined);
    })();
    return this.stopping;
  }

  private async eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    const { topic, partition } = batch;
    let revoked = false;
    const isStale = (): boolean => revoked || !payload.isRunning() || payload.isStale();
    const heartbeat = async (): Promise<void> => {
      try {
        await payload.heartbeat();
      } catch {
        // A rebalance is under way: finish what is done and let kafkajs rejoin.
        revoked = true;
      }
    };
    const messages: InboundMessage[] = batch.messages.map((m) => ({
      topic,
      partition,
      offset: m.offset,
      key: m.key ?? null,
      value: m.value ?? null,
      headers: m.headers ?? {},
      timestamp: m.timestamp,
    }));
    if (!(await this.fenceEarlierOwner(topic, partition, messages[0]?.offset))) return;
    let i = 0;
    while (i < messages.length) {
      if (isStale()) return;
      const chunk = messages.slice(i, i + this.spec.maxBatchSize);
      const first = chunk[0];
      if (!first) return;
      let processed = 0;
      let retryAfterMs = this.opts.redeliveryDelayMs;
      try {
        const outcome = await this.spec.handle({ topic, partition, messages: chunk, isStale, heartbeat });
        processed = Math.max(0, Math.min(outcome.processed, chunk.length));
        if (outcome.retryAfterMs !== undefined) retryAfterMs = outcome.retryAfterMs;
        if (processed > 0) {
          const last = chunk[processed - 1];
          if (!last) return;
          const next = String(BigInt(last.offset) + 1n);
          await this.commit(topic, partition, outcome.outputs, next);
          payload.resolveOffset(last.offset);
          outcome.afterCommit?.();
        }
      } catch (err) {
        const denied = accessError(err, `committing outputs of ${topic}-${partition}`, this.transport.principal);
        if (denied) {
          // Nothing is lost (the batch is delivered again), but it cannot succeed until an operator acts.
          this.opts.logger.error({ topic, partition, offset: first.offset, code: denied.code }, `${denied.message} The batch will be delivered again.`);
        } else {
          this.opts.logger.warn({ topic, partition, offset: first.offset, err: describeError(err) }, 'batch not committed; it will be delivered again');
        }
        processed = 0;
      }
      if (processed < chunk.length) {
        // Deliver the rest again: seek makes kafkajs drop what it fetched beyond this point. The
        // partition is paused instead of waited for here, because kafkajs fetches again only after
        // every batch of the last fetch is done: a wait here would hold up all partitions.
        const from = chunk[processed];
        if (from && payload.isRunning()) {
          this.consumer.seek({ topic, partition, offset: from.offset });
          if (processed === 0 || retryAfterMs !== this.opts.redeliveryDelayMs) this.pauseFor(topic, partition, retryAfterMs);
        }
        return;
      }
      i += processed;
      await heartbeat();
    }
  }

  /**
   * Before this instance handles a partition with a new transactional producer, that producer's
   * initialisation fences the partition's earlier owner: the broker completes or aborts its open
   * transaction first. Only then is the committed offset final — the offset this consumer started
   * from was read before, and a zombie may have committed past it since. Returns false (after
   * seeking to the committed offset) when the batch was already handled by the earlier owner.
   */
  private async fenceEarlierOwner(topic: string, partition: number, firstOffset: string | undefined): Promise<boolean> {
    const key = `${topic}-${partition}`;
    if (this.spec.delivery !== 'exactly-once' || this.producers.has(key) || firstOffset === undefined) return true;
    await this.transactionalProducer(key);
    const committed = (await this.transport.committedOffsets(this.spec.groupId, topic)).get(partition);
    if (committed === undefined || BigInt(committed) <= BigInt(firstOffset)) return true;
    this.opts.logger.warn({ topic, partition, fetchedFrom: firstOffset, committed }, 'an earlier owner committed past the fetched offset; skipping ahead');
    this.consumer.seek({ topic, partition, offset: committed });
    return false;
  }

  /** Producers of partitions given away are closed, so taking one back fences (and re-checks) again. */
  dropProducersNotOwned(): void {
    const owned = new Set(this.owned.map((o) => `${o.topic}-${o.partition}`));
    for (const [key, producer] of this.producers) {
      if (owned.has(key)) continue;
      this.producers.delete(key);
      producer.then((p) => p.disconnect()).catch(() => undefined);
    }
  }

  private pauseFor(topic: string, partition: number, ms: number): void {
    this.consumer.pause([{ topic, partitions: [partition] }]);
    const timer = setTimeout(() => {
      try {
        this.consumer.resume([{ topic, partitions: [partition] }]);
      } catch {
        // The consumer stopped meanwhile; nothing to resume.
      }
    }, ms);
    timer.unref();
  }

  private async commit(topic: string, partition: number, outputs: readonly OutboundRecord[], nextOffset: string): Promise<void> {
    const offsets = { topics: [{ topic, partitions: [{ partition, offset: nextOffset }] }] };
    if (this.spec.delivery === 'at-least-once') {
      if (outputs.length > 0) await this.transport.send(outputs);
      await this.consumer.commitOffsets([{ topic, partition, offset: nextOffset }]);
      return;
    }
    const key = `${topic}-${partition}`;
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
