import { randomBytes } from 'node:crypto';
import { isDeadLetterTopic, OptionChecks, TRACKER_GROUP } from '@troupe/core';
import { checkBrokers, connectAdmin, createKafkaClient, KafkaReader, type KafkaClientOptions, type ReaderBatch } from '@troupe/kafka';
import type { Admin, Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import type { SagaContract } from '@troupe/core';
import type { EventCodec } from '@troupe/schema-registry';
import { TrackerError } from '../errors.js';
import type { TrackerMetrics } from '../metrics.js';
import type { SagaStore } from '../store/saga-store.js';
import type { TrackedEvent } from '../tracked-event.js';
import { attributeLookup, toTrackedEvent } from './to-tracked-event.js';
import type { AttributeLookup } from './to-tracked-event.js';

export interface KafkaIngestOptions {
  readonly brokers: readonly string[];
  readonly store: SagaStore;
  /** Saga topics to read, e.g. from the contracts' event types. @default [] */
  readonly topics?: readonly string[];
  /** Further topics to read: every existing topic whose name matches. @default none */
  readonly topicPattern?: RegExp;
  /** Dead-letter topics: read, and their records recorded as dead letters. @default names ending in core's DEAD_LETTER_SUFFIX (`.dlq`) */
  readonly deadLetterPattern?: RegExp;
  /**
   * Consumer group. A durable store shares one group between instances (they split the partitions
   * and resume from stored offsets). A memory store must see every partition itself, so each
   * instance gets a group of its own. @default 'troupe-tracker' (postgres), 'troupe-tracker-<random>' (memory)
   */
  readonly groupId?: string;
  /** @default 'troupe-tracker' */
  readonly clientId?: string;
  /** Reads failure reasons from payloads that carry no reason header, and attributes. @default none */
  readonly codec?: EventCodec;
  /** Contracts whose business attributes are read from payloads (needs `codec`). @default [] */
  readonly contracts?: readonly SagaContract[];
  /** How long to wait for the configured topics to exist with leaders. @default 30000 */
  readonly topicWaitMs?: number;
  /** How often to look for new topics matching the patterns (e.g. a DLQ created late); 0 = never. @default 30000 */
  readonly topicRefreshMs?: number;
  /**
   * Partitions handled at once. A saga's events share a partition number across topics, so
   * concurrent batches may touch one saga; the stores serialise that. @default 4
   */
  readonly partitionsConsumedConcurrently?: number;
  /**
   * How long the group waits for a silent instance before moving its partitions to the others
   * (Kafka's session timeout; the broker allows 6000 ms and up by default). @default 30000
   */
  readonly sessionTimeoutMs?: number;
  /** Client settings shared with the SDK (ssl, sasl, timeouts), passed to kafkajs unchanged. @default {} */
  readonly kafka?: Pick<KafkaClientOptions, 'ssl' | 'sasl' | 'connectionTimeoutMs' | 'requestTimeoutMs'>;
  readonly metrics?: TrackerMetrics;
  readonly logger?: Logger;
}

export type IngestState = 'starting' | 'running' | 'restarting' | 'crashed' | 'stopped';

/**
 * Reads every saga and dead-letter topic and applies the events to the store, batch by batch,
 * with the offsets. It writes nothing to Kafka and creates no topics.
 */
export class KafkaIngest {
  private consumer: KafkaReader | undefined;
  private admin: Admin | undefined;
  private attributesOf: AttributeLookup | undefined;
  private readonly kafka: Kafka;
  private subscribed: readonly string[] = [];
  private floors = new Map<string, bigint>();
  private refreshTimer: NodeJS.Timeout | undefined;
  private stateValue: IngestState = 'starting';
  /** Failed attempts to resubscribe since the consumer was last running; > 0 means not healthy. */
  private restartFailures = 0;
  private lastError: string | undefined;
  private appliedEvents = 0;
  readonly groupId: string;
  private readonly isDeadLetterTopic: (topic: string) => boolean;

  private constructor(private readonly opts: KafkaIngestOptions) {
    this.groupId = opts.groupId ?? (opts.store.kind === 'memory' ? `${TRACKER_GROUP}-${randomBytes(6).toString('hex')}` : TRACKER_GROUP);
    const pattern = opts.deadLetterPattern;
    this.isDeadLetterTopic = pattern ? (t) => pattern.test(t) : (t) => isDeadLetterTopic(t);
    this.kafka = createKafkaClient({
      ...opts.kafka,
      brokers: opts.brokers,
      clientId: opts.clientId ?? 'troupe-tracker',
      ...(opts.logger ? { logger: opts.logger } : {}),
    });
  }

  /** Connects, waits for the topics, and starts consuming. */
  static async create(opts: KafkaIngestOptions): Promise<KafkaIngest> {
    const check = new OptionChecks();
    checkBrokers(check, opts.brokers);
    check.int('partitionsConsumedConcurrently', opts.partitionsConsumedConcurrently ?? 4);
    check.int('sessionTimeoutMs', opts.sessionTimeoutMs ?? 30_000, { min: 1_000 });
    if ((opts.topics ?? []).length === 0 && opts.topicPattern === undefined) {
      check.add('no topics to read: pass topics (e.g. from the contracts) or a topicPattern');
    }
    check.throwIfAny((problems) => new TrackerError('INVALID_OPTIONS', `tracker ingest: ${problems}.`));
    const ingest = new KafkaIngest(opts);
    try {
      ingest.admin = await connectAdmin(ingest.kafka, opts.brokers);
    } catch (err) {
      throw new TrackerError('BROKER_UNAVAILABLE', `${(err as Error).message} Check the broker list.`, { cause: err });
    }
    try {
      await ingest.start(await ingest.resolveTopics(true));
    } catch (err) {
      await ingest.close();
      throw err;
    }
    const every = opts.topicRefreshMs ?? 30_000;
    if (every > 0) {
      ingest.refreshTimer = setInterval(() => void ingest.refresh(), every);
      ingest.refreshTimer.unref();
    }
    return ingest;
  }

  get state(): IngestState {
    return this.stateValue;
  }

  get topics(): readonly string[] {
    return this.subscribed;
  }

  /** Events applied since start (after skipping those the store already had offsets past). */
  get eventsApplied(): number {
    return this.appliedEvents;
  }

  health(): { ok: boolean; consumer: IngestState; group: string; topics: readonly string[]; lastError?: string } {
    return {
      // Restarting is a normal, short step (new topics); once a restart has failed, nothing is being read.
      ok: this.stateValue === 'running' || (this.stateValue === 'restarting' && this.restartFailures === 0),
      consumer: this.stateValue,
      group: this.groupId,
      topics: this.subscribed,
      ...(this.lastError !== undefined ? { lastError: this.lastError } : {}),
    };
  }

  async close(): Promise<void> {
    if (this.refreshTimer !== undefined) clearInterval(this.refreshTimer);
    this.stateValue = 'stopped';
    await this.consumer?.stop();
    await this.admin?.disconnect().catch(() => undefined);
  }

  private async resolveTopics(wait: boolean): Promise<string[]> {
    const admin = this.connectedAdmin();
    const explicit = [...new Set(this.opts.topics ?? [])];
    const deadline = Date.now() + (this.opts.topicWaitMs ?? 30_000);
    for (;;) {
      // A cluster just creating topics or losing a broker answers retriable errors for a while
      // ("does not host this topic-partition", no leader): wait for it like for a missing topic.
      let existing: string[];
      try {
        existing = await admin.listTopics();
      } catch (err) {
        if (!isRetriable(err) || !wait || Date.now() >= deadline) throw err;
        await new Promise((r) => setTimeout(r, 250));
        continue;
      }
      const matching = existing.filter(
        (t) => !t.startsWith('__') && ((this.opts.topicPattern?.test(t) ?? false) || this.isDeadLetterTopic(t)),
      );
      const missing = explicit.filter((t) => !existing.includes(t));
      const wanted = [...new Set([...explicit.filter((t) => existing.includes(t)), ...matching])].sort();
      // KRaft answers "does not host this topic-partition" until a new topic's leaders are elected.
      const ready = missing.length === 0 && (await this.leadersReady(wanted));
      if (ready || !wait) return wanted;
      if (Date.now() >= deadline) {
        throw new TrackerError(
          'TOPIC_MISSING',
          missing.length > 0
            ? `topics ${missing.join(', ')} do not exist. The tracker is read-only and creates none: create them (or start the participants that do), or fix the topic list.`
            : `topics ${wanted.join(', ')} have partitions without a leader; check the brokers' health.`,
        );
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  private connectedAdmin(): Admin {
    if (!this.admin) throw new TrackerError('BROKER_UNAVAILABLE', 'the ingest is not connected; create it with KafkaIngest.create().');
    return this.admin;
  }

  private async leadersReady(topics: readonly string[]): Promise<boolean> {
    if (topics.length === 0) return true;
    let meta: Awaited<ReturnType<Admin['fetchTopicMetadata']>>['topics'];
    try {
      ({ topics: meta } = await this.connectedAdmin().fetchTopicMetadata({ topics: [...topics] }));
    } catch (err) {
      if (isRetriable(err)) return false;
      throw err;
    }
    return meta.every((m) => m.partitions.length > 0 && m.partitions.every((p) => p.leader >= 0));
  }

  private async refresh(): Promise<void> {
    // A restart that failed left no consumer: every tick tries again until one runs.
    if (this.stateValue !== 'running' && this.stateValue !== 'restarting') return;
    try {
      const topics = await this.resolveTopics(false);
      const same = topics.length === this.subscribed.length && topics.every((t, i) => t === this.subscribed[i]);
      if (same && this.stateValue === 'running') return;
      if (this.stateValue === 'running') {
        this.opts.logger?.info({ topics }, 'new topics match; resubscribing');
        this.stateValue = 'restarting';
        const old = this.consumer;
        this.consumer = undefined;
        await old?.stop();
      }
      await this.start(topics);
    } catch (err) {
      this.restartFailures += 1;
      this.lastError = (err as Error).message;
      this.opts.logger?.warn({ err, attempts: this.restartFailures }, 'topic refresh failed; retrying at the next refresh');
    }
  }

  private async start(topics: readonly string[]): Promise<void> {
    if (topics.length === 0) throw new TrackerError('TOPIC_MISSING', 'no existing topic matches the configured topics or pattern.');
    // Offsets the store holds are where this group has provably applied up to; never re-apply below them.
    this.floors = new Map((await this.opts.store.offsets(this.groupId)).map((o) => [`${o.topic}:${o.partition}`, BigInt(o.next)]));
    const consumer = await KafkaReader.start(this.kafka, {
      groupId: this.groupId,
      topics,
      fromBeginning: true,
      commits: 'auto',
      concurrency: this.opts.partitionsConsumedConcurrently ?? 4,
      sessionTimeoutMs: this.opts.sessionTimeoutMs ?? 30_000,
      maxWaitTimeMs: 250,
      retries: 8,
      handle: (b) => this.onBatch(b),
      onCrash: (error, restarting) => {
        this.lastError = String(error);
        if (!restarting) this.stateValue = 'crashed';
        this.opts.logger?.error({ err: error, restart: restarting }, 'consumer crashed');
      },
    });
    // close() may have run while this consumer was starting: it must not outlive the tracker.
    if (this.stateValue === 'stopped') {
      await consumer.stop();
      return;
    }
    this.consumer = consumer;
    this.restartFailures = 0;
    this.subscribed = topics;
    this.stateValue = 'running';
    this.opts.logger?.info({ group: this.groupId, topics }, 'tracker consuming');
  }

  private async onBatch(batch: ReaderBatch): Promise<void> {
    const { topic, partition } = batch;
    const lastMessage = batch.records[batch.records.length - 1];
    if (lastMessage === undefined || batch.isStale()) return;
    const floor = this.floors.get(`${topic}:${partition}`);
    const isDeadLetterTopic = this.isDeadLetterTopic;
    const events: TrackedEvent[] = [];
    for (const m of batch.records) {
      if (floor !== undefined && BigInt(m.offset) < floor) continue;
      const converted = await toTrackedEvent(
        { topic, partition, offset: m.offset, value: m.value, headers: m.headers },
        {
          isDeadLetterTopic,
          attributesOf: (this.attributesOf ??= attributeLookup(this.opts.contracts ?? [])),
          ...(this.opts.codec !== undefined ? { codec: this.opts.codec } : {}),
        },
      );
      if (converted.ok) {
        events.push(converted.event);
        if (converted.event.deadLetter !== undefined && converted.event.deadLetter.replay === undefined)
          this.opts.metrics?.deadLetters.inc({ topic });
      } else {
        this.opts.metrics?.messagesRejected.inc({
          topic,
          reason: isDeadLetterTopic(topic) ? 'dead-letter-without-envelope' : 'not-a-saga-event',
        });
        this.opts.logger?.debug({ topic, partition, offset: m.offset, problems: converted.reason }, 'skipped record without saga envelope');
      }
    }
    const next = (BigInt(lastMessage.offset) + 1n).toString();
    const end = this.opts.metrics?.applySeconds.startTimer();
    await this.opts.store.apply({ events, group: this.groupId, offsets: [{ topic, partition, next }] });
    end?.();
    this.appliedEvents += events.length;
    this.opts.metrics?.eventsIngested.inc({ topic }, events.length);
    // Kafka's committed offset trails the store's: after a crash the floor skips what is already applied.
    batch.resolveOffset(lastMessage.offset);
    await batch.commitIfNecessary();
    await batch.heartbeat();
  }
}

/** kafkajs marks errors worth another try (leader elections, metadata not yet everywhere). */
function isRetriable(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { retriable?: unknown }).retriable === true;
}
