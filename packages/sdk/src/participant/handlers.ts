import type { EventEnvelope, SagaRole } from '@troupe/core';
import type { EventType, StepDescriptor } from '@troupe/schema-registry';
import type { Logger } from 'pino';
import type { HandlerFlowOptions } from '../flow/flow-options.js';
import type { TransactionClient } from '../postgres/postgres-outbox.js';
import type { ScheduleOptions } from '../timers/scheduled-events.js';

/** Overrides for an emitted event's saga headers (normally derived from the saga contract). */
export interface EmitOptions {
  readonly role?: SagaRole;
  readonly step?: string;
}

/** What every handler gets besides the payload. */
export interface HandlerContext {
  readonly sagaId: string;
  readonly sagaType: string;
  /** The contract version the saga started with (`ce_sagaversion`); undefined means 1. */
  readonly sagaVersion: number | undefined;
  /** `ce_id` of the event being handled; stable across redeliveries. */
  readonly eventId: string;
  /** `ce_causationid` of the handled event (what caused it), if any. */
  readonly causationId: string | undefined;
  /** 1 on first delivery, then 2, 3, ... for in-place retries. */
  readonly attempt: number;
  /** The handled event's full envelope. */
  readonly envelope: EventEnvelope;
  /** W3C `traceparent` of the handled event. */
  readonly traceparent: string | undefined;
  /**
   * Aborted when this attempt's deadline passes (`handlerTimeoutMs`, or the step's `timeoutMs`):
   * pass it to the downstream call (`fetch(url, { signal: ctx.signal })`) so it is cancelled too.
   * What the handler emits after that is ignored.
   */
  readonly signal: AbortSignal;
  /** pino child logger bound to saga id, event id, type and participant. */
  readonly logger: Logger;
  /**
   * The handler's database transaction, when the participant has an `outbox` (PostgreSQL): what
   * the handler writes with it, the inbox row of this event and everything it emits commit
   * together, or none of it does. Throws CONFIG_INVALID in participants without an outbox.
   */
  readonly tx: TransactionClient;
  /**
   * Publishes an event in the same saga (same key, causation = this event, trace propagated).
   * It is appended only if the handler finishes, in the same transaction as the consumed offset.
   */
  emit<T>(type: EventType<T>, payload: T, options?: EmitOptions): Promise<void>;
  /**
   * Runs an external side effect at most once per key and returns its stored result when the event
   * is delivered again. The default key is derived from the event id and the handler; pass a key
   * when one handler runs several effects. Give the key to the external system as well
   * (`ctx.idempotencyKey(...)`) when it supports one: a crash after the effect but before it is
   * recorded runs the effect again.
   */
  once<R>(fn: () => Promise<R>): Promise<R>;
  once<R>(key: string, fn: () => Promise<R>): Promise<R>;
  /** The key `once` would use for `name` (or for its next call without a name). */
  idempotencyKey(name?: string): string;
  /**
   * Emits an event of this saga later (`{ after: '15m' }` or `{ at: date }`), on a durable timer:
   * the timer record is committed with this handler's outputs, survives restarts and rebalances,
   * and fires once (exactly-once delivery). Resolves with the schedule's id. Needs the
   * participant's `timers` option.
   */
  schedule<T>(type: EventType<T>, payload: T, when: ScheduleOptions): Promise<string>;
  /** Cancels a schedule of this saga by id (with this handler's outputs); a fired or unknown one is ignored. */
  cancelSchedule(id: string): void;
}

/**
 * How a step's handler ended: `return ctx.complete(...)`, `return ctx.fail(...)`, or, when the
 * outcome comes later on purpose, `return ctx.defer(reason)`. A handler that returns without one
 * fails with STEP_WITHOUT_OUTCOME instead of leaving the saga hanging unnoticed.
 */
export interface StepOutcome {
  readonly stepOutcome: 'completed' | 'failed' | 'deferred';
}

/** Context of a forward step: it completes (recording what compensation will need) or fails. */
export interface StepContext<TDone, TFail, TLog> extends HandlerContext {
  /** Emits the step's completed event and records `log` for this step's compensation. */
  complete(payload: TDone, log?: TLog): Promise<StepOutcome>;
  /** Emits the step's failure event; the other participants compensate. */
  fail(payload: TFail): Promise<StepOutcome>;
  /**
   * Ends the handler without an outcome on purpose: the outcome comes later (an external callback,
   * a timer). Nothing is emitted; until then the tracker shows the saga waiting in this step.
   */
  defer(reason: string): StepOutcome;
}

/** Context of a compensation handler. */
export interface CompensationContext<TComp, TCompFail = never> extends HandlerContext {
  /** Emits the step's compensated event. */
  compensated(payload: TComp): Promise<void>;
  /**
   * Emits the step's `compensationFailed` event: the undo is impossible (a refund the bank refuses
   * for good). The tracker then shows the step `compensation-failed`. When the handler gives up
   * instead (retries used up), the SDK emits it from `onCompensationGiveUp`.
   */
  compensationFailed(payload: TCompFail): Promise<void>;
}

export interface HandlerArgs<T, C> {
  readonly payload: T;
  readonly ctx: C;
}

/** A plain reaction to an event type. */
export interface EventHandlerDefinition<T> extends HandlerFlowOptions {
  readonly kind: 'on';
  readonly type: EventType<T>;
  readonly handle: (args: HandlerArgs<T, HandlerContext>) => Promise<void>;
}

/** The event that made a compensation run (another step's failure, usually). */
export interface CompensationTrigger {
  readonly type: string;
  readonly payload: unknown;
  readonly envelope: EventEnvelope;
}

/**
 * A saga step this participant owns: the event that starts it, its outcome events, how to build the
 * failure event when the handler gives up, and how to undo it.
 */
export interface StepDefinition<TIn, TDone, TFail, TLog = undefined, TComp = never, TCompFail = never> extends HandlerFlowOptions {
  readonly kind: 'step';
  /** Step name as in the saga contract. */
  readonly name: string;
  readonly on: EventType<TIn>;
  /**
   * What the step waits for, one event of each list (ADR 0017): several lists make a join (the
   * step runs once every branch of the previous parallel group has its outcome), several events in
   * one list are alternatives (either outcome of an optional step). @default [[on]]
   */
  readonly awaits?: readonly (readonly EventType[])[];
  /** The parallel group the step is a branch of, as the contract says (set from a step descriptor). */
  readonly parallel?: string;
  readonly completed: EventType<TDone>;
  readonly failed: EventType<TFail>;
  readonly handle: (args: HandlerArgs<TIn, StepContext<TDone, TFail, TLog>>) => Promise<StepOutcome | void>;
  /** The participant that owns the step in the contract (set when built from a step descriptor). */
  readonly participant?: string;
  /**
   * Builds the failure event's payload when the handler gives up (retries exhausted or a
   * non-retriable error), so the saga compensates instead of hanging.
   */
  readonly onGiveUp: (args: { readonly payload: TIn; readonly error: unknown; readonly ctx: HandlerContext }) => TFail;
  /** Emitted by `ctx.compensated` in the compensation handler. */
  readonly compensated?: EventType<TComp>;
  /** Emitted when the compensation gives up (built by `onCompensationGiveUp`) or by `ctx.compensationFailed`. */
  readonly compensationFailed?: EventType<TCompFail>;
  /**
   * Builds the `compensationFailed` event's payload when the compensation handler gives up
   * (retries used up, or a non-retriable error), so the saga shows what is left to undo instead of
   * only a dead letter. Required when the step has `compensate` and a `compensationFailed` event.
   */
  readonly onCompensationGiveUp?: (args: {
    readonly log: TLog | undefined;
    readonly trigger: CompensationTrigger;
    readonly error: unknown;
    readonly ctx: HandlerContext;
  }) => TCompFail;
  /**
   * Events that make this step compensate. Defaults to the failure events of the steps after this
   * one and of its sibling branches in the saga contract, optional steps excepted (resolved
   * through the participant's `events` catalog).
   */
  readonly compensateOn?: readonly EventType[];
  /**
   * Undoes the step. `log` is what `ctx.complete` recorded for this saga, or undefined when the
   * step never completed for it (nothing to undo, usually).
   */
  readonly compensate?: (args: {
    readonly log: TLog | undefined;
    readonly trigger: CompensationTrigger;
    readonly ctx: CompensationContext<TComp, TCompFail>;
  }) => Promise<void>;
}

/**
 * A handler built by {@link on} or {@link step}. Opaque: definitions are stored type-erased, each
 * was type-checked where it was built.
 */
export interface HandlerDefinition {
  readonly kind: 'on' | 'step';
}

/**
 * Declares a plain handler: `on(OrderPlaced, async ({ payload, ctx }) => ...)`; `options` sets its
 * deadline, bulkhead, circuit breaker and rate limit.
 */
export function on<T>(
  type: EventType<T>,
  handle: (args: HandlerArgs<T, HandlerContext>) => Promise<void>,
  options: HandlerFlowOptions = {},
): HandlerDefinition {
  const def: EventHandlerDefinition<T> = { ...options, kind: 'on', type, handle };
  return def;
}

/** What a service writes for a step whose events come from the contract (a step descriptor). */
export interface StepImplementation<TIn, TDone, TFail, TLog, TComp, TCompFail = never> extends HandlerFlowOptions {
  /** Ends with `return ctx.complete(...)` or `return ctx.fail(...)`. */
  readonly handle: (args: HandlerArgs<TIn, StepContext<TDone, TFail, TLog>>) => Promise<StepOutcome>;
  /** Builds the failure event when the handler gives up (retries used up, or a non-retriable error). */
  readonly onGiveUp: (args: { readonly payload: TIn; readonly error: unknown; readonly ctx: HandlerContext }) => TFail;
  /** Undoes the step; `log` is what `ctx.complete` recorded (declare its type with `.withLog<L>()`). */
  readonly compensate?: StepDefinition<TIn, TDone, TFail, TLog, TComp, TCompFail>['compensate'];
  /** Builds the contract's `compensationFailed` event when `compensate` gives up; required when the contract declares one. */
  readonly onCompensationGiveUp?: StepDefinition<TIn, TDone, TFail, TLog, TComp, TCompFail>['onCompensationGiveUp'];
  /** @default the failure events of the later steps and sibling branches, from the contract */
  readonly compensateOn?: readonly EventType[];
}

type AnyStepDescriptor = StepDescriptor<unknown, unknown, unknown, unknown, unknown, unknown>;

/**
 * What `step(descriptor, ...)` expects, computed from the descriptor alone, so the handlers are
 * typed by the contract and literals in them stay literals (nothing is inferred from them).
 */
export type ImplementationOf<D> =
  D extends StepDescriptor<infer I, infer Done, infer F, infer C, infer L, infer CF> ? StepImplementation<I, Done, F, L, C, CF> : never;

/** The step definition `step(descriptor, ...)` returns. */
export type DefinitionOf<D> =
  D extends StepDescriptor<infer I, infer Done, infer F, infer C, infer L, infer CF> ? StepDefinition<I, Done, F, L, C, CF> : never;

/**
 * Declares a saga step. From a generated step descriptor (events, owner and compensation triggers
 * come from the contract): `step(orderFulfillment.payment, { handle, onGiveUp, compensate })`.
 */
export function step<D extends AnyStepDescriptor>(descriptor: D, implementation: ImplementationOf<D>): DefinitionOf<D>;
/** Declares a saga step with its outcome events spelled out (when there is no generated descriptor). */
export function step<TIn, TDone, TFail, TLog = undefined, TComp = never, TCompFail = never>(
  def: Omit<StepDefinition<TIn, TDone, TFail, TLog, TComp, TCompFail>, 'kind'>,
): HandlerDefinition;
export function step<TIn, TDone, TFail, TLog, TComp, TCompFail>(
  a: StepDescriptor<TIn, TDone, TFail, TComp, TLog, TCompFail> | Omit<StepDefinition<TIn, TDone, TFail, TLog, TComp, TCompFail>, 'kind'>,
  implementation?: StepImplementation<TIn, TDone, TFail, TLog, TComp, TCompFail>,
): StepDefinition<TIn, TDone, TFail, TLog, TComp, TCompFail> {
  if (implementation === undefined)
    return { kind: 'step', ...(a as Omit<StepDefinition<TIn, TDone, TFail, TLog, TComp, TCompFail>, 'kind'>) };
  const d = a as StepDescriptor<TIn, TDone, TFail, TComp, TLog, TCompFail>;
  const { handle, onGiveUp, compensate, compensateOn, onCompensationGiveUp, ...flow } = implementation;
  return {
    ...flow,
    kind: 'step',
    name: d.name,
    participant: d.participant,
    on: d.on,
    awaits: d.awaits,
    ...(d.parallel !== undefined ? { parallel: d.parallel } : {}),
    completed: d.completed,
    failed: d.failed,
    ...(d.compensated !== undefined ? { compensated: d.compensated } : {}),
    ...(d.compensationFailed !== undefined ? { compensationFailed: d.compensationFailed } : {}),
    compensateOn: compensateOn ?? d.compensateOn,
    handle,
    onGiveUp,
    ...(compensate !== undefined ? { compensate } : {}),
    ...(onCompensationGiveUp !== undefined ? { onCompensationGiveUp } : {}),
  };
}
