import { context } from '@opentelemetry/api';
import { EnvelopeError, HEADER, headerString, parseEnvelope, type EventEnvelope } from '@troupe/core';
import { SchemaRegistryError, type EventCodec } from '@troupe/schema-registry';
import { pino, type Logger } from 'pino';
import { register as globalRegistry, type Registry } from 'prom-client';
import { deadLetterRecord, MARKER_HEADER, type DeadLetterReason } from '../dead-letter/dead-letter.js';
import { describeError, SdkError } from '../errors.js';
import { EventContext } from './event-context.js';
import type { CompensationTrigger } from './handlers.js';
import type { IdempotencyStore } from '../idempotency/idempotency-store.js';
import { MemoryIdempotencyStore } from '../idempotency/memory-idempotency-store.js';
import { lazyChild } from '../util/lazy-logger.js';
import { ParticipantMetrics } from '../operations/metrics.js';
import { normalizeOptions, type NormalizedOptions, type ParticipantOptions } from './participant-options.js';
import { backoffDelay, isRetriable } from '../retry/retry-policy.js';
import { readRoutingSlip, type RoutingSlip } from './routing-slip.js';
import { originalOf, readRetryInfo, retryRecord } from '../retry/retry-topic.js';
import { buildRoutes, type Route, type RouteTable } from './routes.js';
import { sleep } from '../util/semaphore.js';
import { ensureSagaTopics } from '../transport/topics.js';
import { contextFromTraceparent } from '../operations/trace.js';
import type { BatchOutcome, ConsumerHandle, InboundMessage, OutboundRecord, PartitionBatch, Transport } from '../transport/transport.js';

/** Thrown inside a batch for infrastructure trouble: commit what is done, redeliver the rest. */
class TransientError extends Error {
  override readonly name = 'TransientError';
}

/** The head of a retry partition is not due yet: commit what is done, look again at `dueAt`. */
class NotDueYet extends Error {
  override readonly name = 'NotDueYet';
  constructor(readonly dueAt: number) {
    super('not due yet');
  }
}

interface BatchState {
  readonly batch: PartitionBatch;
  /** Parked-saga changes of the messages already done in this batch. */
  readonly delta: Map<string, number>;
  /** Parked-saga changes of the message being handled. */
  readonly own: Map<string, number>;
}

interface HandlingArgs {
  readonly message: InboundMessage;
  readonly env: EventEnvelope;
  readonly payload: unknown;
  readonly slip: RoutingSlip;
  readonly log: Logger;
  readonly batch: PartitionBatch;
}

/** What a participant reports about itself to health checks. */
export interface ParticipantHealth {
  /** The consumer runs (not closed, not crashed). */
  readonly live: boolean;
  /** Live, broker reachable, and not stalled (behind while nothing completed recently). */
  readonly ready: boolean;
  readonly details: Readonly<Record<string, string>>;
}

/** Cap on sagas remembered as dead-lettered; the oldest are forgotten first. */
const DEAD_SAGAS_CAP = 100_000;

/**
 * A service's part in one or more choreographed sagas: consumes the event types its handlers react
 * to, runs the handlers, and appends what they emit together with the consumed offsets.
 *
 * ```ts
 * const payment = await Participant.create({ name: 'payment-service', transport, codec, handlers: [step({...})] });
 * await payment.close();
 * ```
 */
export class Participant {
  readonly name: string;
  /** Prometheus metrics of this participant. */
  readonly metrics: Registry;
  private readonly opts: NormalizedOptions;
  private readonly transport: Transport;
  private readonly codec: EventCodec;
  private readonly store: IdempotencyStore;
  private readonly ownsStore: boolean;
  private readonly logger: Logger;
  private readonly routes: RouteTable;
  private readonly instruments: ParticipantMetrics;
  private readonly deadSagas = new Set<string>();
  /** Sagas with events waiting in the retry topic, and how many. */
  private readonly parked = new Map<string, number>();
  /** Attempt and due time of retry records whose last pass failed (they stay uncommitted). */
  private readonly retryState = new Map<string, { attempt: number; dueAt: number }>();
  /** Retry partitions whose waiting sagas were read back since the last assignment change. */
  private readonly restored = new Map<number, Promise<void>>();
  private consumer: ConsumerHandle | undefined;
  private closed = false;
  private lastProgressAt = Date.now();

  private constructor(options: ParticipantOptions, opts: NormalizedOptions, routes: RouteTable) {
    this.opts = opts;
    this.name = opts.name;
    this.transport = options.transport;
    this.codec = options.codec;
    this.routes = routes;
    this.store = options.idempotencyStore ?? new MemoryIdempotencyStore();
    this.ownsStore = options.idempotencyStore === undefined;
    this.logger = (options.logger ?? pino({ name: opts.name, level: 'info' })).child({ participant: opts.name });
    this.metrics = options.metricsRegistry ?? globalRegistry;
    this.instruments = new ParticipantMetrics(this.metrics, opts.name, () => this.consumer?.lag() ?? Promise.resolve(undefined));
  }

  /**
   * Checks the handlers against the contracts, creates missing topics (refusing to start when a
   * saga's topics disagree on the partition count), joins the consumer group and starts handling.
   */
  static async create(options: ParticipantOptions): Promise<Participant> {
    const opts = normalizeOptions(options);
    const routes = buildRoutes(opts.name, options.handlers, opts.contracts, opts.events);
    const p = new Participant(options, opts, routes);
    await ensureSagaTopics(options.transport, {
      owner: `participant ${opts.name}`,
      sagaTopics: [...new Set([...routes.inputTopics, ...routes.outputTopics, ...(opts.retryTopic ? [opts.retryTopic.topic] : [])])],
      extraTopics: routes.inputTopics.map((t) => opts.deadLetterTopic(t)),
      partitions: opts.partitions,
      replicationFactor: opts.replicationFactor,
    });
    p.consumer = await options.transport.consume({
      groupId: opts.groupId,
      topics: opts.retryTopic ? [...routes.inputTopics, opts.retryTopic.topic] : routes.inputTopics,
      fromBeginning: opts.fromBeginning,
      delivery: opts.delivery,
      transactionalIdPrefix: `troupe-${opts.groupId}`,
      maxBatchSize: opts.maxBatchSize,
      concurrency: opts.concurrency,
      handle: (batch) => p.handleBatch(batch),
      onAssignment: () => p.forgetParked(),
    });
    p.logger.info({ topics: routes.inputTopics, groupId: opts.groupId, delivery: opts.delivery }, 'participant started');
    return p;
  }

  /** Topics this participant consumes. */
  get topics(): readonly string[] {
    return this.routes.inputTopics;
  }

  /** Stops fetching, finishes and commits in-flight batches, leaves the group. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.consumer?.stop();
    if (this.ownsStore) await this.store.close();
    this.logger.info('participant closed');
  }

  async health(): Promise<ParticipantHealth> {
    const details: Record<string, string> = {};
    const live = !this.closed && this.consumer !== undefined && this.consumer.isRunning();
    details['consumer'] = live ? 'running' : this.closed ? 'closed' : 'stopped (crashed? see the logs)';
    let brokerOk = false;
    try {
      await this.transport.ping();
      brokerOk = true;
      details['broker'] = 'reachable';
    } catch (err) {
      details['broker'] = `unreachable: ${describeError(err)}`;
    }
    const lag = live ? await this.consumer?.lag() : undefined;
    const idleMs = Date.now() - this.lastProgressAt;
    // Stalled: work is waiting but nothing completed for a long while (a wedged handler or broker).
    const stalled = lag !== undefined && lag > 0 && idleMs > Math.max(60_000, this.opts.maxBatchMs * 20);
    details['lag'] = lag === undefined ? 'unknown' : String(lag);
    if (stalled) details['stalled'] = `no batch completed for ${Math.round(idleMs / 1000)}s with ${lag} messages waiting`;
    return { live, ready: live && brokerOk && !stalled, details };
  }

  // ---- batch processing ----

  /**
   * Which sagas wait in the retry topic is kept in memory; after an assignment change it is rebuilt
   * per partition from the retry topic itself (records past the group's committed offset), so a
   * restarted or new owner keeps the per-saga order too.
   */
  private forgetParked(): void {
    this.parked.clear();
    this.retryState.clear();
    this.restored.clear();
  }

  private restoreParked(partition: number): Promise<void> {
    const retry = this.opts.retryTopic;
    if (!retry) return Promise.resolve();
    let p = this.restored.get(partition);
    if (!p) {
      p = (async () => {
        const committed = (await this.transport.committedOffsets(this.opts.groupId, retry.topic)).get(partition) ?? '0';
        const pending = await this.transport.readPartition(retry.topic, partition, committed);
        for (const record of pending) {
          const saga = readRetryInfo(record) ? headerString(record.headers, HEADER.sagaId) : undefined;
          if (saga !== undefined) this.parked.set(saga, (this.parked.get(saga) ?? 0) + 1);
        }
        if (pending.length > 0) this.logger.info({ partition, waiting: pending.length }, 'restored sagas waiting in the retry topic');
      })();
      p.catch(() => this.restored.delete(partition));
      this.restored.set(partition, p);
    }
    return p;
  }

  private async handleBatch(batch: PartitionBatch): Promise<BatchOutcome> {
    try {
      await this.restoreParked(batch.partition);
    } catch (err) {
      this.logger.warn({ partition: batch.partition, err: describeError(err) }, 'cannot read the retry topic yet; the batch will be delivered again');
      return { outputs: [], processed: 0 };
    }
    const outputs: OutboundRecord[] = [];
    const started = Date.now();
    // Changes to the parked-saga counts take effect only once the batch is committed.
    const delta = new Map<string, number>();
    let processed = 0;
    let retryAfterMs: number | undefined;
    for (const message of batch.messages) {
      if (processed > 0 && (batch.isStale() || Date.now() - started > this.opts.maxBatchMs)) break;
      const own = new Map<string, number>();
      try {
        outputs.push(...(await this.handleMessage(message, { batch, delta, own })));
      } catch (err) {
        if (err instanceof NotDueYet) retryAfterMs = Math.max(1, err.dueAt - Date.now());
        else {
          this.logger.warn(
            { topic: message.topic, partition: message.partition, offset: message.offset, err: describeError(err) },
            'transient failure; the event will be delivered again',
          );
        }
        break;
      }
      for (const [saga, d] of own) delta.set(saga, (delta.get(saga) ?? 0) + d);
      processed += 1;
    }
    if (processed > 0) this.lastProgressAt = Date.now();
    return {
      outputs,
      processed,
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
      afterCommit: () => {
        for (const [saga, d] of delta) {
          const n = (this.parked.get(saga) ?? 0) + d;
          if (n > 0) this.parked.set(saga, n);
          else this.parked.delete(saga);
        }
      },
    };
  }

  private isParked(sagaId: string, b: BatchState): boolean {
    return (this.parked.get(sagaId) ?? 0) + (b.delta.get(sagaId) ?? 0) + (b.own.get(sagaId) ?? 0) > 0;
  }

  private park(sagaId: string, b: BatchState, by: number): void {
    b.own.set(sagaId, (b.own.get(sagaId) ?? 0) + by);
  }

  private async handleMessage(message: InboundMessage, b: BatchState): Promise<OutboundRecord[]> {
    if (message.headers[MARKER_HEADER] !== undefined) return [];
    const retry = this.opts.retryTopic;
    if (retry && message.topic === retry.topic) return this.handleRetryRecord(message, b);
    let env: EventEnvelope;
    try {
      env = parseEnvelope(message.headers);
    } catch (err) {
      if (err instanceof EnvelopeError) return [this.deadLetter(message, 'MALFORMED_ENVELOPE', err.message)];
      throw err;
    }
    if (!this.routes.byType.has(env.type)) return [];
    if (retry && this.isParked(env.sagaId, b)) {
      // An earlier event of this saga waits in the retry topic: queue behind it, keep the order.
      this.park(env.sagaId, b, 1);
      return [retryRecord({ message, retryTopic: retry.topic, attempt: 0, dueAt: Date.now() })];
    }
    return this.dispatch(message, env, b, undefined);
  }

  private async handleRetryRecord(record: InboundMessage, b: BatchState): Promise<OutboundRecord[]> {
    const info = readRetryInfo(record);
    if (!info) {
      this.logger.warn({ topic: record.topic, offset: record.offset }, 'record without retry headers on the retry topic; skipped');
      return [];
    }
    const key = `${record.partition}/${record.offset}`;
    const state = this.retryState.get(key) ?? { attempt: info.attempt, dueAt: info.dueAt };
    if (state.dueAt > Date.now()) throw new NotDueYet(state.dueAt);
    const original = originalOf(record, info);
    const env = parseEnvelope(original.headers);
    const out = await this.dispatch(original, env, b, { attempt: state.attempt, routes: info.routes, key });
    this.retryState.delete(key);
    this.park(env.sagaId, b, -1);
    return out;
  }

  private async dispatch(
    message: InboundMessage,
    env: EventEnvelope,
    b: BatchState,
    retried: { attempt: number; routes: readonly string[] | undefined; key: string } | undefined,
  ): Promise<OutboundRecord[]> {
    const all = this.routes.byType.get(env.type) ?? [];
    const routes = retried?.routes ? all.filter((r) => retried.routes?.includes(r.label)) : all;
    const log = lazyChild(this.logger, () => ({ sagaId: env.sagaId, eventId: env.id, eventType: env.type }));
    const reader = routes[0]?.reader;
    let payload: unknown;
    if (message.value === null) {
      return [this.deadLetter(message, 'UNDECODABLE_PAYLOAD', 'the record has no value', { log })];
    }
    try {
      payload = (await this.codec.decode(message.value, reader)).payload;
    } catch (err) {
      if (err instanceof SchemaRegistryError) {
        if (err.retriable) throw new TransientError(err.message, { cause: err });
        const reason: DeadLetterReason = err.code === 'UNKNOWN_SCHEMA_ID' ? 'UNKNOWN_SCHEMA_ID' : 'UNDECODABLE_PAYLOAD';
        return [this.deadLetter(message, reason, err.message, { log })];
      }
      return [this.deadLetter(message, 'UNDECODABLE_PAYLOAD', describeError(err), { log })];
    }

    const slip = readRoutingSlip(message.headers);
    const a = { message, env, payload, slip, log, batch: b.batch };
    const out: OutboundRecord[] = [];
    const failed: { route: Route; error: unknown; attempts: number }[] = [];
    for (const route of routes) {
      if (route.kind !== 'compensate' && this.deadSagas.has(env.sagaId)) {
        out.push(this.deadLetter(message, 'SAGA_DEAD_LETTERED', `an earlier event of saga ${env.sagaId} was dead-lettered by ${this.name}`, { log }));
        this.instruments.handled.inc({ participant: this.name, type: env.type, outcome: 'skipped' });
        continue;
      }
      const result = await this.runRoute(route, a);
      if (result.ok) out.push(...result.outputs);
      else failed.push({ route, error: result.error, attempts: result.attempts });
    }
    if (failed.length === 0) return out;

    const retry = this.opts.retryTopic;
    const worthRetrying = retry !== undefined && failed.every((f) => isRetriable(f.error));
    const labels = { participant: this.name, type: env.type };
    if (worthRetrying && retried === undefined) {
      this.park(env.sagaId, b, 1);
      this.instruments.retried.inc(labels);
      log.warn({ routes: failed.map((f) => f.route.label), err: describeError(failed[0]?.error) }, 'handler failed; moved to the retry topic');
      out.push(
        retryRecord({ message, retryTopic: retry.topic, attempt: 1, dueAt: Date.now() + retry.delayMs, routes: failed.map((f) => f.route.label) }),
      );
      return out;
    }
    if (worthRetrying && retried !== undefined && retried.attempt < retry.attempts) {
      // Not committed: the record stays at the head of its retry partition until its next pass.
      const dueAt = Date.now() + retry.delayMs * 2 ** retried.attempt;
      this.retryState.set(retried.key, { attempt: retried.attempt + 1, dueAt });
      this.instruments.retried.inc(labels);
      log.warn({ pass: retried.attempt, err: describeError(failed[0]?.error) }, 'retry pass failed; trying again later');
      throw new NotDueYet(dueAt);
    }
    const passes = retried ? Math.max(1, retried.attempt) + 1 : 1;
    for (const f of failed) out.push(...(await this.giveUp(f.route, a, f.error, f.attempts * passes)));
    return out;
  }

  /** Runs one handler with in-place retries. */
  private async runRoute(
    route: Route,
    a: HandlingArgs,
  ): Promise<{ ok: true; outputs: OutboundRecord[] } | { ok: false; error: unknown; attempts: number }> {
    const policy = this.opts.retry;
    const labels = { participant: this.name, type: a.env.type };
    let lastError: unknown;
    let attempt = 1;
    for (; attempt <= policy.attempts; attempt++) {
      const ctx = this.contextFor(route, a, attempt);
      const timer = this.instruments.duration.startTimer(labels);
      try {
        await context.with(contextFromTraceparent(a.env.traceparent), () => this.invoke(route, a, ctx));
        timer();
        this.instruments.handled.inc({ ...labels, outcome: 'ok' });
        return { ok: true, outputs: ctx.outputs };
      } catch (err) {
        timer();
        lastError = err;
        this.instruments.failed.inc(labels);
        if (err instanceof SdkError && err.code === 'IDEMPOTENCY_STORE_ERROR') throw new TransientError(err.message, { cause: err });
        if (attempt === policy.attempts || !isRetriable(err) || a.batch.isStale()) break;
        ctx.logger.warn({ attempt, err: describeError(err) }, `${route.label} failed; retrying`);
        this.instruments.retried.inc(labels);
        await sleep(backoffDelay(policy, attempt));
        await a.batch.heartbeat();
      }
    }
    if (a.batch.isStale()) throw new TransientError('partition revoked while retrying');
    return { ok: false, error: lastError, attempts: Math.min(attempt, policy.attempts) };
  }

  /** Dead-letters the event for a handler that gave up, and emits the step's failure event. */
  private async giveUp(route: Route, a: HandlingArgs, error: unknown, attempts: number): Promise<OutboundRecord[]> {
    a.log.error({ attempts, err: describeError(error), route: route.label }, 'handler gave up; dead-lettering the event');
    this.instruments.handled.inc({ participant: this.name, type: a.env.type, outcome: 'gave-up' });
    const out: OutboundRecord[] = [this.deadLetter(a.message, 'HANDLER_FAILED', describeError(error), { attempts, log: a.log })];
    this.rememberDeadSaga(a.env.sagaId);
    if (route.kind === 'step') {
      const ctx = this.contextFor(route, a, attempts + 1);
      try {
        const failure = route.def.onGiveUp({ payload: a.payload, error, ctx });
        await ctx.fail(failure);
        out.push(...ctx.outputs);
      } catch (err) {
        a.log.error({ err: describeError(err) }, `cannot build ${route.def.failed.name} after giving up; only the dead letter is written`);
      }
    }
    return out;
  }

  private invoke(route: Route, a: { env: EventEnvelope; payload: unknown; slip: RoutingSlip }, ctx: EventContext): Promise<void> {
    switch (route.kind) {
      case 'on':
        return route.def.handle({ payload: a.payload, ctx });
      case 'step':
        return route.def.handle({ payload: a.payload, ctx });
      case 'compensate': {
        const trigger: CompensationTrigger = { type: a.env.type, payload: a.payload, envelope: a.env };
        const compensate = route.def.compensate;
        return compensate ? compensate({ log: a.slip[route.def.name], trigger, ctx }) : Promise.resolve();
      }
    }
  }

  private contextFor(route: Route, a: { env: EventEnvelope; slip: RoutingSlip; log: Logger }, attempt: number): EventContext {
    return new EventContext({
      participant: this.name,
      groupId: this.opts.groupId,
      codec: this.codec,
      contracts: this.opts.contracts,
      store: this.store,
      logger: lazyChild(a.log, () => ({ handler: route.label, attempt })),
      route: route.label,
      envelope: a.env,
      slip: a.slip,
      attempt,
      ...(route.kind === 'on'
        ? {}
        : {
            step: {
              name: route.def.name,
              completed: route.def.completed,
              failed: route.def.failed,
              ...(route.def.compensated ? { compensated: route.def.compensated } : {}),
            },
          }),
    });
  }

  private deadLetter(
    message: InboundMessage,
    reason: DeadLetterReason,
    error: string,
    more: { attempts?: number; log?: Logger } = {},
  ): OutboundRecord {
    const attempts = more.attempts ?? 0;
    const log = more.log ?? this.logger;
    this.instruments.deadLettered.inc({ participant: this.name, reason });
    log.warn({ reason, error, topic: message.topic, partition: message.partition, offset: message.offset }, 'event dead-lettered');
    return deadLetterRecord({ message, topic: this.opts.deadLetterTopic(message.topic), reason, error, attempts, participant: this.name });
  }

  private rememberDeadSaga(sagaId: string): void {
    this.deadSagas.add(sagaId);
    if (this.deadSagas.size > DEAD_SAGAS_CAP) {
      const oldest = this.deadSagas.values().next().value;
      if (oldest !== undefined) this.deadSagas.delete(oldest);
    }
  }
}
