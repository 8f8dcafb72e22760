import { context, type Context, type Span } from '@opentelemetry/api';
import { withRetries, type EventEnvelope, type SagaContract } from '@troupe/core';
import type { EventCodec } from '@troupe/schema-registry';
import type { Logger } from 'pino';
import type { DeadLetterer } from '../dead-letter/dead-letterer.js';
import { describeError, SdkError } from '../errors.js';
import { isBulkheadFull, type FlowControl } from '../flow/flow-control.js';
import { OVERFLOW_AFTER_MS } from '../flow/flow-options.js';
import type { IdempotencyStore } from '../idempotency/idempotency-store.js';
import { inboxKeyOf, inHandlerTransaction } from '../postgres/handler-transaction.js';
import type { PostgresOutbox } from '../postgres/postgres-outbox.js';
import { oversizedOutput } from './output-refusals.js';
import type { ParticipantMetrics } from '../operations/metrics.js';
import { endSpan, logTraceFields, startHandleSpan } from '../operations/trace.js';
import { backoffDelay, isRetriable, type RetryPolicy } from '../retry/retry-policy.js';
import type { InboundMessage, OutboundRecord, PartitionBatch } from '../transport/transport.js';
import { lazyChild } from '../util/lazy-logger.js';
import { EventContext } from './event-context.js';
import type { CompensationTrigger } from './handlers.js';
import type { Route } from './routes.js';
import type { RoutingSlip } from './routing-slip.js';
import type { Clock } from '../timers/clock.js';
import { AttemptAbort } from './attempt-abort.js';
import { Deadlines } from '../util/deadlines.js';

/** One decoded event on its way to its handlers. */
export interface Handling {
  readonly message: InboundMessage;
  readonly env: EventEnvelope;
  readonly payload: unknown;
  readonly slip: RoutingSlip;
  readonly log: Logger;
  readonly batch: PartitionBatch;
  /** The record's process span: handler spans are its children. */
  readonly trace: Context;
}

/**
 * What running one handler came to.
 * - `ok`: it finished; `outputs` are what it emitted.
 * - `failed`: it kept failing (or failed for good); the caller retries later or gives up.
 * - `transient`: infrastructure trouble (idempotency store down, partition revoked): deliver the
 *   event again, nothing is given up.
 */
export type RouteResult =
  | { readonly kind: 'ok'; readonly outputs: readonly OutboundRecord[] }
  | { readonly kind: 'failed'; readonly error: unknown; readonly attempts: number }
  | { readonly kind: 'transient'; readonly reason: string }
  /** Its circuit breaker is open: the event waits until `until` (nothing is given up). */
  | { readonly kind: 'paused'; readonly until: number; readonly reason: string }
  /** Its bulkhead stayed full and it may overflow: move the event to the retry topic (nothing ran). */
  | { readonly kind: 'overflow' };

export interface HandlerRunnerDeps {
  readonly participant: string;
  readonly groupId: string;
  readonly codec: EventCodec;
  readonly contracts: readonly SagaContract[];
  readonly store: IdempotencyStore;
  readonly retry: RetryPolicy;
  /** Deadline of one attempt unless the step sets its own. */
  readonly handlerTimeoutMs: number;
  /** Bulkheads, circuit breakers and rate limits. */
  readonly flow: FlowControl;
  readonly instruments: ParticipantMetrics;
  readonly deadLetters: DeadLetterer;
  /** With an outbox, each attempt runs in a database transaction with its inbox row and outputs (ADR 0014). */
  readonly outbox?: PostgresOutbox;
  /** `max.message.bytes` of the output topics where known: outbox rows are checked before they are written. */
  readonly outputLimits: ReadonlyMap<string, number>;
  /** The participant's timer topic and clock, for `ctx.schedule`; undefined without timers. */
  readonly timers?: { readonly topic: string; readonly clock: Clock };
}

/** The labels of the per-type handler metrics. */
interface TypeLabels {
  readonly participant: string;
  readonly type: string;
}

const stepWithoutOutcome = (step: string): SdkError =>
  new SdkError(
    'STEP_WITHOUT_OUTCOME',
    `step ${step} returned without an outcome, so its saga would wait forever: end the handler with ` +
      '`return ctx.complete(...)` or `return ctx.fail(...)` (or `return ctx.defer(reason)` when the outcome comes later)',
  );

const isRefusal = (err: unknown): boolean => err instanceof SdkError && err.code === 'OUTPUT_REFUSED';

const isStoreTrouble = (err: unknown): boolean =>
  err instanceof SdkError && (err.code === 'IDEMPOTENCY_STORE_ERROR' || err.code === 'OUTBOX_STORE_ERROR');

/** Runs handlers: in-place retries, the OpenTelemetry context, metrics, and giving up. */
export class HandlerRunner {
  /** Attempt deadlines, on one timer per length (see Deadlines). */
  private readonly deadlines = new Deadlines();
  /**
   * Metric label sets per event type, built once: prom-client hashes and validates a label
   * object on every update, and building two or three fresh ones per event (with a spread and
   * a histogram timer closure) showed in the step bench's profile.
   */
  private readonly labelSets = new Map<string, { readonly type: TypeLabels; readonly ok: TypeLabels & { readonly outcome: 'ok' } }>();

  constructor(private readonly deps: HandlerRunnerDeps) {}

  /** `mayOverflow`: the event may move to the retry topic when the handler's bulkhead stays full. */
  async run(route: Route, a: Handling, mayOverflow = false): Promise<RouteResult> {
    const { instruments, retry } = this.deps;
    const labelSet = this.labelsOf(a.env.type);
    const labels = labelSet.type;
    let ctx: EventContext | undefined;
    const guard = this.deps.flow.guard(route.label, route.def);
    const isOutage = (err: unknown): boolean => !isStoreTrouble(err) && isRetriable(err);
    const overflowAfterMs = mayOverflow && route.def.overflow === 'retry-topic' ? OVERFLOW_AFTER_MS : undefined;
    const result = await withRetries(
      (attempt) =>
        guard.attempt(
          async () => {
            const handle = startHandleSpan(a.trace, {
              participant: this.deps.participant,
              route: route.label,
              sagaId: a.env.sagaId,
              step: route.kind === 'on' ? undefined : route.def.name,
              attempt,
            });
            const abort = new AttemptAbort();
            const current = this.contextFor(route, a, attempt, { handle, abort });
            ctx = current;
            const started = performance.now();
            try {
              // Active for spans the user starts (with a context manager installed); emits use it explicitly.
              const invoke = (): Promise<void> => context.with(handle.ctx, () => this.invoke(route, a, current));
              const outbox = this.deps.outbox;
              const work = outbox
                ? inHandlerTransaction(
                    outbox,
                    { key: inboxKeyOf(this.deps.groupId, route, a.env), limits: this.deps.outputLimits },
                    current,
                    invoke,
                  ).then((r) => {
                    if (r === 'duplicate') instruments.duplicates.inc(labels);
                  })
                : invoke();
              await withDeadline(work, { deadlines: this.deadlines, ms: this.timeoutOf(route), abort, label: route.label });
              endSpan(handle.span);
              // With an outbox the outputs were committed with the transaction; the relay publishes them.
              return outbox ? [] : current.outputs;
            } catch (err) {
              endSpan(handle.span, err);
              instruments.failed.inc(labels);
              throw err;
            } finally {
              instruments.duration.observe(labels, (performance.now() - started) / 1000);
            }
          },
          isOutage,
          attempt === 1 ? overflowAfterMs : undefined,
        ),
      {
        attempts: retry.attempts,
        delayMs: (failures) => backoffDelay(retry, failures),
        retryOn: (err) => guard.mayRetry(err) && isOutage(err) && !a.batch.isStale(),
        onRetry: async (err, attempt) => {
          ctx?.logger.warn({ attempt, err: describeError(err) }, `${route.label} failed; retrying`);
          instruments.retried.inc(labels);
          await a.batch.heartbeat();
        },
      },
    );
    if (result.ok) {
      instruments.handled.inc(labelSet.ok);
      return { kind: 'ok', outputs: result.value };
    }
    if (isStoreTrouble(result.error)) return { kind: 'transient', reason: describeError(result.error) };
    if (isBulkheadFull(result.error)) return { kind: 'overflow' };
    const paused = guard.paused(result.error, isOutage(result.error));
    if (paused) return { kind: 'paused', ...paused };
    if (a.batch.isStale()) return { kind: 'transient', reason: 'partition revoked while retrying' };
    return { kind: 'failed', error: result.error, attempts: result.attempts };
  }

  /**
   * Dead-letters the event for a handler that gave up, and emits what the saga's contract says
   * happened: the step's failure event (a step), its `compensationFailed` event (a compensation).
   * With an outbox, nothing at all when the inbox already holds the event (ADR 0014, amendment).
   */
  async giveUp(route: Route, a: Handling, error: unknown, attempts: number): Promise<OutboundRecord[]> {
    const failure = route.kind === 'on' ? undefined : route.kind === 'step' ? route.def.failed : route.def.compensationFailed;
    const ctx = this.contextFor(route, a, attempts + 1, undefined);
    const outbox = this.deps.outbox;
    let emitted = route.kind !== 'on' && (await this.buildFailure(route, a, error, ctx));
    const tooLarge = emitted && outbox ? oversizedOutput(ctx.outputs, this.deps.outputLimits) : undefined;
    if (tooLarge) {
      // As on the Kafka path: a failure event that would be refused too leaves only the dead letter.
      a.log.error(
        { err: tooLarge.message },
        `${failure?.name ?? 'the failure event'} is too large for its topic; only the dead letter is written`,
      );
      emitted = false;
    }
    if (outbox) {
      // Like a normal attempt, a give-up asks the inbox first: an attempt that timed out may have
      // committed after all (its transaction ran on), and then the event is handled — its outputs
      // are in the outbox, so neither a failure event nor a dead letter may go out.
      const key = inboxKeyOf(this.deps.groupId, route, a.env);
      const verdict = emitted
        ? // Through the outbox, behind what this participant emitted earlier in the saga.
          await inHandlerTransaction(outbox, { key, limits: this.deps.outputLimits }, ctx, () => Promise.resolve())
        : (await outbox.wasHandled(key))
          ? 'duplicate'
          : 'handled';
      if (verdict === 'duplicate') {
        a.log.warn(
          { attempts, err: describeError(error), route: route.label },
          'handler gave up, but the inbox holds the event (an earlier attempt committed): nothing is emitted or dead-lettered',
        );
        this.deps.instruments.duplicates.inc({ participant: this.deps.participant, type: a.env.type });
        return [];
      }
    }
    a.log.error({ attempts, err: describeError(error), route: route.label }, 'handler gave up; dead-lettering the event');
    this.deps.instruments.handled.inc({ participant: this.deps.participant, type: a.env.type, outcome: 'gave-up' });
    // A saga whose failure went out with the dead letter compensates: replays of it are refused (ADR 0012).
    // The dead letter says so; the saga is remembered as given up on once the batch holding it committed.
    const dead = this.deps.deadLetters.record(a.message, isRefusal(error) ? 'OUTPUT_REFUSED' : 'HANDLER_FAILED', describeError(error), {
      attempts,
      log: a.log,
      sagaState: emitted || route.kind === 'compensate' ? 'failed' : 'dead',
      ...(emitted && failure !== undefined ? { failure: failure.name } : {}),
    });
    // With an outbox the failure event is already committed there.
    return emitted && !outbox ? [dead, ...ctx.outputs] : [dead];
  }

  /**
   * Emits (into `ctx`) what the contract says a give-up means: the step's failure event, or its
   * `compensationFailed` event. Resolves whether there was one to emit.
   */
  private async buildFailure(route: Exclude<Route, { kind: 'on' }>, a: Handling, error: unknown, ctx: EventContext): Promise<boolean> {
    try {
      if (route.kind === 'step') {
        await ctx.fail(route.def.onGiveUp({ payload: a.payload, error, ctx }));
        return true;
      }
      if (route.def.compensationFailed && route.def.onCompensationGiveUp) {
        // The saga's real state: this step stays done and is not undone (the tracker shows what is left).
        const trigger: CompensationTrigger = { type: a.env.type, payload: a.payload, envelope: a.env };
        await ctx.compensationFailed(route.def.onCompensationGiveUp({ log: a.slip[route.def.name], trigger, error, ctx }));
        return true;
      }
    } catch (err) {
      const failure = route.kind === 'step' ? route.def.failed : route.def.compensationFailed;
      a.log.error(
        { err: describeError(err) },
        `cannot build ${failure?.name ?? 'the failure event'} after giving up; only the dead letter is written`,
      );
    }
    return false;
  }

  private labelsOf(type: string): { readonly type: TypeLabels; readonly ok: TypeLabels & { readonly outcome: 'ok' } } {
    let set = this.labelSets.get(type);
    if (set === undefined) {
      const participant = this.deps.participant;
      set = { type: { participant, type }, ok: { participant, type, outcome: 'ok' } };
      this.labelSets.set(type, set);
    }
    return set;
  }

  private timeoutOf(route: Route): number {
    return route.def.timeoutMs ?? this.deps.handlerTimeoutMs;
  }

  private async invoke(route: Route, a: Handling, ctx: EventContext): Promise<void> {
    switch (route.kind) {
      case 'on':
        return route.def.handle({ payload: a.payload, ctx });
      case 'step':
        await route.def.handle({ payload: a.payload, ctx });
        // A step that neither completed nor failed would leave its saga waiting forever.
        if (ctx.outcome === undefined) throw stepWithoutOutcome(route.def.name);
        return;
      case 'compensate': {
        const trigger: CompensationTrigger = { type: a.env.type, payload: a.payload, envelope: a.env };
        const compensate = route.def.compensate;
        return compensate ? compensate({ log: a.slip[route.def.name], trigger, ctx }) : Promise.resolve();
      }
    }
  }

  private contextFor(
    route: Route,
    a: Handling,
    attempt: number,
    live: { readonly handle: { readonly span: Span; readonly ctx: Context }; readonly abort: AttemptAbort } | undefined,
  ): EventContext {
    const handle = live?.handle;
    const abort = live?.abort;
    const d = this.deps;
    return new EventContext({
      trace: handle?.ctx ?? a.trace,
      participant: d.participant,
      groupId: d.groupId,
      codec: d.codec,
      contracts: d.contracts,
      store: d.store,
      logger: lazyChild(a.log, () => ({ handler: route.label, attempt, ...(handle ? logTraceFields(handle.span) : {}) })),
      route: route.label,
      envelope: a.env,
      slip: a.slip,
      attempt,
      ...(abort ? { abort } : {}),
      ...(d.timers ? { timers: { ...d.timers, partition: a.message.partition } } : {}),
      ...(route.kind === 'on'
        ? {}
        : {
            step: {
              name: route.def.name,
              completed: route.def.completed,
              failed: route.def.failed,
              ...(route.def.compensated ? { compensated: route.def.compensated } : {}),
              ...(route.def.compensationFailed ? { compensationFailed: route.def.compensationFailed } : {}),
            },
          }),
    });
  }
}

/**
 * Settles with `work`, or rejects with a retriable TIMEOUT once `ms` passed, aborting `abort` so
 * the handler can cancel what it waits for. The late result of `work` is ignored (its context's
 * outputs are never used); a late rejection is swallowed.
 */
function withDeadline(
  work: Promise<void>,
  d: { readonly deadlines: Deadlines; readonly ms: number; readonly abort: AttemptAbort; readonly label: string },
): Promise<void> {
  const { ms, abort, label } = d;
  return new Promise<void>((resolve, reject) => {
    const cancel = d.deadlines.start(ms, () => {
      const err = new SdkError(
        'TIMEOUT',
        `${label} took longer than ${ms} ms; the attempt counts as failed (raise timeoutMs or handlerTimeoutMs if that is normal)`,
      );
      abort.abort(err);
      reject(err);
    });
    work.then(
      () => {
        cancel();
        resolve();
      },
      (err: unknown) => {
        cancel();
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}
