import { transactionalIdPrefixOf } from '@troupe/core';
import { pino, type Logger } from 'pino';
import { register as globalRegistry, type Registry } from 'prom-client';
import { DeadLetterer } from '../dead-letter/dead-letterer.js';
import { DeadSagas } from '../dead-letter/dead-sagas.js';
import { describeError, SdkError } from '../errors.js';
import { FinishedAhead } from '../flow/finished-ahead.js';
import { FlowControl } from '../flow/flow-control.js';
import type { IdempotencyStore } from '../idempotency/idempotency-store.js';
import { openInbox } from '../inbox/open-inbox.js';
import { OutputRefusals, readOutputLimits } from './output-refusals.js';
import type { Inbox } from '../inbox/inbox.js';
import { MemoryIdempotencyStore } from '../idempotency/memory-idempotency-store.js';
import { ParticipantMetrics } from '../operations/metrics.js';
import { ensureSagaTopics } from '../transport/topics.js';
import type { ConsumerHandle, Transport } from '../transport/transport.js';
import { handleBatch } from './batch-loop.js';
import { participantHealth, type ParticipantHealth } from './health.js';
import { Dispatcher } from './dispatch.js';
import { HandlerRunner } from './handler-runner.js';
import { normalizeOptions, type NormalizedOptions, type ParticipantOptions } from './participant-options.js';
import { ParkedSagas } from './parking.js';
import { openResources, type ParticipantResources } from './resources.js';
import { buildRoutes, type RouteTable } from './routes.js';
import { RunState } from './run-state.js';
import { OutboxRelay } from '../postgres/outbox-relay.js';
import { systemClock, type Clock } from '../timers/clock.js';
import { ensureTimerTopic } from '../timers/timer-topic.js';
import { participantTimers, type ParticipantTimers } from '../timers/participant-timers.js';

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
  private readonly resources: ParticipantResources;
  private readonly store: IdempotencyStore;
  private readonly ownsStore: boolean;
  private readonly logger: Logger;
  private readonly routes: RouteTable;
  private readonly parked: ParkedSagas;
  private readonly deadSagas: DeadSagas;
  private readonly dispatcher: Dispatcher;
  private readonly flow: FlowControl;
  private readonly finishedAhead = new FinishedAhead();
  private readonly clock: Clock;
  private readonly timers: ParticipantTimers | undefined;
  private consumer: ConsumerHandle | undefined;
  private inbox: Inbox | undefined;
  private readonly instruments: ParticipantMetrics;
  private readonly outputLimits = new Map<string, number>();
  private readonly refusals = new OutputRefusals();
  private relay: OutboxRelay | undefined;
  private closed = false;
  private lastProgressAt = Date.now();
  private readonly runState = new RunState();

  private constructor(
    private readonly options: ParticipantOptions,
    opts: NormalizedOptions,
    routes: RouteTable,
    resources: ParticipantResources,
  ) {
    this.opts = opts;
    this.name = opts.name;
    this.resources = resources;
    this.transport = resources.transport;
    this.routes = routes;
    this.store = options.idempotencyStore ?? new MemoryIdempotencyStore();
    this.ownsStore = options.idempotencyStore === undefined;
    this.logger = (options.logger ?? pino({ name: opts.name, level: 'info' })).child({ participant: opts.name });
    this.metrics = options.metricsRegistry ?? globalRegistry;
    const instruments = new ParticipantMetrics(this.metrics, opts.name, () => this.consumer?.lag() ?? Promise.resolve(undefined));
    this.instruments = instruments;
    this.clock = this.transport.clock ?? systemClock;
    this.flow = new FlowControl({
      participant: opts.name,
      clock: this.clock,
      defaults: opts.flow,
      circuitState: instruments.circuitState,
      logger: this.logger,
    });
    for (const list of routes.byType.values()) for (const route of list) this.flow.register(route.label, route.def);
    this.deadSagas = new DeadSagas({
      transport: this.transport,
      groupId: opts.groupId,
      deadLetterTopics: [...new Set(routes.inputTopics.map((t) => opts.deadLetterTopic(t)))],
      logger: this.logger,
    });
    const deadLetters = new DeadLetterer({
      participant: opts.name,
      groupId: opts.groupId,
      topicFor: opts.deadLetterTopic,
      instruments,
      logger: this.logger,
    });
    this.timers = participantTimers({
      participant: opts.name,
      groupId: opts.groupId,
      timers: opts.timers,
      contracts: opts.contracts,
      events: opts.events,
      timeouts: options.timeouts ?? [],
      transport: this.transport,
      codec: resources.codec,
      clock: this.clock,
      logger: this.logger,
    });
    this.parked = new ParkedSagas({
      transport: this.transport,
      groupId: opts.groupId,
      retryTopic: opts.retryTopic?.topic,
      logger: this.logger,
    });
    this.dispatcher = new Dispatcher({
      participant: opts.name,
      groupId: opts.groupId,
      codec: resources.codec,
      routes,
      homeTopics: new Map([
        ...opts.events.map((e) => [e.name, e.topic] as const),
        ...[...routes.byType].map(([type, r]) => [type, r[0]?.reader.topic ?? ''] as const),
      ]),
      retryTopic: opts.retryTopic,
      parked: this.parked,
      deadLetters,
      instruments,
      logger: this.logger,
      clock: this.clock,
      outputLimits: this.outputLimits,
      refusals: this.refusals,
      runner: new HandlerRunner({
        participant: opts.name,
        groupId: opts.groupId,
        codec: resources.codec,
        contracts: opts.contracts,
        store: this.store,
        retry: opts.retry,
        handlerTimeoutMs: opts.handlerTimeoutMs,
        flow: this.flow,
        instruments,
        deadLetters,
        ...(options.outbox ? { outbox: options.outbox } : {}),
        outputLimits: this.outputLimits,
        ...(opts.timers ? { timers: { topic: opts.timers.topic, clock: this.clock } } : {}),
      }),
    });
  }

  /**
   * Checks the handlers against the contracts, creates missing topics (refusing to start when a
   * saga's topics disagree on the partition count), joins the consumer group and starts handling.
   */
  static async create(options: ParticipantOptions): Promise<Participant> {
    const opts = normalizeOptions(options);
    const routes = buildRoutes(opts.name, options.handlers, opts.contracts, opts.events);
    const resources = await openResources(options, options.logger ?? pino({ name: opts.name, level: 'info' }));
    const p = new Participant(options, opts, routes, resources);
    try {
      return await Participant.start(p);
    } catch (err) {
      await p.relay?.close();
      await resources.close();
      throw err;
    }
  }

  private static async start(p: Participant): Promise<Participant> {
    const { opts, routes } = p;
    const retryTopics = opts.retryTopic ? [opts.retryTopic.topic] : [];
    const clockTopics = p.timers?.topics ?? [];
    const partitions = await ensureSagaTopics(p.transport, {
      owner: `participant ${opts.name}`,
      sagaTopics: [...new Set([...routes.inputTopics, ...routes.outputTopics, ...retryTopics, ...clockTopics])],
      extraTopics: routes.inputTopics.map((t) => opts.deadLetterTopic(t)),
      partitions: opts.partitions,
      replicationFactor: opts.replicationFactor,
    });
    p.inbox = await openInbox(p.transport, {
      owner: `participant ${opts.name}`,
      partitions,
      opts,
      logger: p.logger,
      instruments: p.instruments,
    });
    if (opts.timers) {
      const owner = `participant ${opts.name}`;
      await ensureTimerTopic(p.transport, { owner, topic: opts.timers.topic, partitions, replicationFactor: opts.replicationFactor });
    }
    const timers = p.timers?.service;
    const sagaClock = p.timers?.sagaClock;
    const written = [...routes.outputTopics, ...retryTopics, ...routes.inputTopics.map((t) => opts.deadLetterTopic(t))];
    await readOutputLimits(p.transport, written, p.outputLimits, p.logger);
    const loop = {
      dispatcher: p.dispatcher,
      parked: p.parked,
      deadSagas: p.deadSagas,
      inbox: p.inbox,
      refusals: p.refusals,
      logger: p.logger,
      maxBatchMs: opts.maxBatchMs,
      sagaConcurrency: opts.flow.sagaConcurrency,
      finishedAhead: p.finishedAhead,
      onProgress: () => (p.lastProgressAt = Date.now()),
      clock: p.clock,
      ...(timers ? { timers } : {}),
      ...(sagaClock ? { sagaClock } : {}),
    };
    const outbox = p.options.outbox;
    if (outbox && p.options.relay !== false) {
      const settings = typeof p.options.relay === 'object' ? p.options.relay : {};
      p.relay = await OutboxRelay.create({ logger: p.logger, metricsRegistry: p.metrics, ...settings, outbox, transport: p.transport });
    }
    p.consumer = await p.transport.consume({
      groupId: opts.groupId,
      topics: [...new Set([...routes.inputTopics, ...clockTopics]), ...retryTopics],
      // A retry record waits at its partition's head until due; fresh events must not wait behind it.
      standaloneTopics: retryTopics,
      fromBeginning: opts.fromBeginning,
      delivery: opts.delivery,
      transactionalIdPrefix: transactionalIdPrefixOf(opts.groupId),
      maxBatchSize: opts.maxBatchSize,
      concurrency: opts.concurrency,
      handle: (batch) => handleBatch(loop, batch),
      ...(timers ? { wakeAt: (partition: number) => timers.wakeAt(partition) } : {}),
      onAssignment: () => {
        p.parked.forget();
        p.deadSagas.forget();
        p.inbox?.reassigned();
        p.finishedAhead.forget();
        timers?.forget();
      },
      onCrash: (error, restarting) => {
        if (!restarting) p.crashed(error);
      },
    });
    p.logger.info({ topics: routes.inputTopics, groupId: opts.groupId, delivery: opts.delivery }, 'participant started');
    return p;
  }

  /** Topics this participant consumes. */
  get topics(): readonly string[] {
    return this.routes.inputTopics;
  }

  /**
   * Resolves when the participant is closed; rejects with CONSUMER_CRASHED when its consumer
   * stops for good (kafkajs gave up restarting it), so a service can exit and be restarted.
   */
  run(): Promise<void> {
    return this.runState.run();
  }

  /** Calls `listener` when the consumer crashes for good; returns the function that unsubscribes. */
  onCrash(listener: (error: Error) => void): () => void {
    return this.runState.onCrash(listener);
  }

  /** Stops fetching, finishes and commits in-flight batches, leaves the group. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.consumer?.stop();
    await this.inbox?.close();
    await this.relay?.close();
    if (this.ownsStore) await this.store.close();
    await this.resources.close();
    this.logger.info('participant closed');
    this.runState.closed();
  }

  private crashed(cause: Error): void {
    if (this.closed) return;
    const message = `participant ${this.name}: the consumer stopped for good (${describeError(cause)}); restart the service`;
    if (this.runState.crashed(new SdkError('CONSUMER_CRASHED', message, { cause })))
      this.logger.error({ err: describeError(cause) }, 'consumer crashed for good');
  }

  async health(): Promise<ParticipantHealth> {
    const { closed, consumer, transport, lastProgressAt, opts, relay } = this;
    return participantHealth({ closed, consumer, transport, lastProgressAt, opts, relay, circuits: this.flow.openCircuits() });
  }
}
