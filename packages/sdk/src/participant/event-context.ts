import { context, type Context } from '@opentelemetry/api';
import { hash } from 'node:crypto';
import { toHeaders, type EventEnvelope, type SagaContract } from '@troupe/core';
import { type EventCodec, type EventType } from '@troupe/schema-registry';
import type { Logger } from 'pino';
import { encodeOrThrow } from './encode.js';
import type { CompensationContext, EmitOptions, StepContext, StepOutcome } from './handlers.js';
import type { IdempotencyStore } from '../idempotency/idempotency-store.js';
import { ROUTING_SLIP_HEADER, writeRoutingSlip, type RoutingSlip } from './routing-slip.js';
import { roleInContracts } from './saga-roles.js';
import { outgoingTraceparent, startSendSpan } from '../operations/trace.js';
import type { OutboundRecord } from '../transport/transport.js';
import type { TransactionClient } from '../postgres/postgres-outbox.js';
import { SdkError } from '../errors.js';
import { cancelRecord, scheduleRecord, timersOff, type ScheduleOptions, type TimerTarget } from '../timers/scheduled-events.js';

/** Deterministic event id: a redelivered or retried handler emits events with the same `ce_id`. */
export function derivedEventId(parts: readonly string[]): string {
  // One-shot hash(): a tenth of createHash()'s cost for inputs this small (no Hash object per event).
  const h = hash('sha256', parts.join('\u0000'), 'hex');
  // Shaped as a UUID (version nibble 5-like, variant 10xx) so tools that expect one accept it.
  const variant = ((parseInt(h.slice(16, 17), 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export interface EventContextDeps {
  readonly participant: string;
  /** The handler's span context: emitted events are sent from a child span of it. @default the active context */
  readonly trace?: Context;
  readonly groupId: string;
  readonly codec: EventCodec;
  readonly contracts: readonly SagaContract[];
  readonly store: IdempotencyStore;
  readonly logger: Logger;
  /** Identifies the handler within the participant, for default idempotency keys and event ids. */
  readonly route: string;
  readonly envelope: EventEnvelope;
  readonly slip: RoutingSlip;
  readonly attempt: number;
  /** Its `signal` is aborted when the attempt's deadline passes (read only when the handler asks for `ctx.signal`). */
  readonly abort?: { readonly signal: AbortSignal };
  /** Where `schedule` writes its timers; undefined when the participant has no timer topic. */
  readonly timers?: TimerTarget;
  /** Step name, for `complete`/`fail`/`compensated`. */
  readonly step?: {
    readonly name: string;
    readonly completed: EventType;
    readonly failed: EventType;
    readonly compensated?: EventType;
    readonly compensationFailed?: EventType;
  };
}

/** The signal of contexts without a deadline (giving up, tests). */
const NEVER_ABORTED: AbortSignal = new AbortController().signal;

/**
 * One handler invocation's context. Emitted events are buffered as records; the runtime appends
 * them (with the consumed offset) only when the handler finishes.
 */
export class EventContext implements StepContext<unknown, unknown, unknown>, CompensationContext<unknown, unknown> {
  readonly outputs: OutboundRecord[] = [];
  readonly emitted: EventEnvelope[] = [];
  private emitCount = 0;
  private onceCount = 0;
  private outcomeValue: StepOutcome | undefined;
  private transaction: TransactionClient | undefined;

  constructor(private readonly deps: EventContextDeps) {}

  get sagaId(): string {
    return this.deps.envelope.sagaId;
  }
  get sagaType(): string {
    return this.deps.envelope.sagaType;
  }
  /** The contract version the saga started with (`ce_sagaversion`); undefined = 1. */
  get sagaVersion(): number | undefined {
    return this.deps.envelope.sagaVersion;
  }
  get eventId(): string {
    return this.deps.envelope.id;
  }
  get causationId(): string | undefined {
    return this.deps.envelope.causationId;
  }
  get attempt(): number {
    return this.deps.attempt;
  }
  get envelope(): EventEnvelope {
    return this.deps.envelope;
  }
  get traceparent(): string | undefined {
    return this.deps.envelope.traceparent;
  }
  get logger(): Logger {
    return this.deps.logger;
  }
  get signal(): AbortSignal {
    return this.deps.abort?.signal ?? NEVER_ABORTED;
  }

  get tx(): TransactionClient {
    if (this.transaction === undefined) {
      throw new SdkError('CONFIG_INVALID', 'ctx.tx needs a participant created with outbox (a PostgresOutbox); see docs/outbox.md');
    }
    return this.transaction;
  }

  /** Binds the handler's database transaction (the runtime does, around the handler call). */
  useTransaction(tx: TransactionClient | undefined): void {
    this.transaction = tx;
  }

  emit<T>(type: EventType<T>, payload: T, options?: EmitOptions): Promise<void> {
    return this.emitWithSlip(type, payload, this.deps.slip, options);
  }

  async schedule<T>(type: EventType<T>, payload: T, when: ScheduleOptions): Promise<string> {
    const target = this.deps.timers;
    if (!target) throw timersOff('schedule');
    const { record } = await this.build(type, payload, this.deps.slip, undefined);
    const scheduled = scheduleRecord(target, record, this.sagaId, when);
    this.outputs.push(scheduled.record);
    return scheduled.id;
  }

  cancelSchedule(id: string): void {
    const target = this.deps.timers;
    if (!target) throw timersOff('cancelSchedule');
    this.outputs.push(cancelRecord(target, this.sagaId, id));
  }

  async complete(payload: unknown, log?: unknown): Promise<StepOutcome> {
    const step = this.requireStep('complete');
    const slip = log === undefined ? this.deps.slip : { ...this.deps.slip, [step.name]: log };
    await this.emitWithSlip(step.completed, payload, slip, { role: 'step-completed', step: step.name });
    this.outcomeValue = { stepOutcome: 'completed' };
    return this.outcomeValue;
  }

  async fail(payload: unknown): Promise<StepOutcome> {
    const step = this.requireStep('fail');
    await this.emitWithSlip(step.failed, payload, this.deps.slip, { role: 'step-failed', step: step.name });
    this.outcomeValue = { stepOutcome: 'failed' };
    return this.outcomeValue;
  }

  defer(reason: string): StepOutcome {
    const step = this.requireStep('defer');
    this.deps.logger.info({ step: step.name, reason }, 'step outcome deferred');
    this.outcomeValue = { stepOutcome: 'deferred' };
    return this.outcomeValue;
  }

  /** The step's outcome once `complete`, `fail` or `defer` ran; undefined before (or for other handlers). */
  get outcome(): StepOutcome | undefined {
    return this.outcomeValue;
  }

  async compensated(payload: unknown): Promise<void> {
    const step = this.requireStep('compensated');
    if (!step.compensated) {
      throw new Error(`step ${step.name} declares no compensated event type; add compensated: <EventType> to its definition`);
    }
    await this.emitWithSlip(step.compensated, payload, this.deps.slip, { role: 'compensated', step: step.name });
  }

  async compensationFailed(payload: unknown): Promise<void> {
    const step = this.requireStep('compensationFailed');
    if (!step.compensationFailed) {
      throw new Error(
        `step ${step.name} declares no compensationFailed event type; declare it in the saga contract (or add compensationFailed: <EventType> to the step)`,
      );
    }
    await this.emitWithSlip(step.compensationFailed, payload, this.deps.slip, { role: 'compensation-failed', step: step.name });
  }

  idempotencyKey(name?: string): string {
    const { groupId, envelope, route } = this.deps;
    return name === undefined ? `${groupId}:${envelope.id}:${route}:#${this.onceCount}` : `${groupId}:${name}`;
  }

  once<R>(fn: () => Promise<R>): Promise<R>;
  once<R>(key: string, fn: () => Promise<R>): Promise<R>;
  async once<R>(a: string | (() => Promise<R>), b?: () => Promise<R>): Promise<R> {
    const key = typeof a === 'string' ? this.idempotencyKey(a) : this.idempotencyKey();
    const fn = typeof a === 'string' ? b : a;
    if (typeof a !== 'string') this.onceCount += 1;
    if (!fn) throw new Error('ctx.once(key, fn) needs a function');
    const stored = await this.deps.store.get(key);
    if (stored) {
      this.deps.logger.debug({ idempotencyKey: key }, 'side effect already done; returning the stored result');
      return stored.value as R;
    }
    const result = await fn();
    return (await this.deps.store.putIfAbsent(key, result)) as R;
  }

  private requireStep(method: string): NonNullable<EventContextDeps['step']> {
    if (!this.deps.step) throw new Error(`ctx.${method} is only available in step handlers (step({...}))`);
    return this.deps.step;
  }

  private async emitWithSlip(type: EventType, payload: unknown, slip: RoutingSlip, options?: EmitOptions): Promise<void> {
    const { record, env } = await this.build(type, payload, slip, options);
    this.outputs.push(record);
    this.emitted.push(env);
  }

  private async build(
    type: EventType,
    payload: unknown,
    slip: RoutingSlip,
    options: EmitOptions | undefined,
  ): Promise<{ record: OutboundRecord; env: EventEnvelope }> {
    const d = this.deps;
    const value = await encodeOrThrow(d.codec, type, payload);
    const derived = roleInContracts(d.contracts, d.envelope.sagaType, type.name);
    const stepName = options?.step ?? derived?.step;
    const id = derivedEventId([d.groupId, d.envelope.id, d.route, String(this.emitCount++)]);
    const send = startSendSpan(
      type.topic,
      {
        id,
        type: type.name,
        sagaId: d.envelope.sagaId,
        sagaType: d.envelope.sagaType,
        step: stepName,
      },
      d.trace ?? context.active(),
      outgoingTraceparent(d.envelope.traceparent),
    );
    // The record is appended now and sent with the batch's transaction; the span covers the append.
    send.span.end();
    const traceparent = send.traceparent;
    const env: EventEnvelope = {
      id,
      source: d.participant,
      type: type.name,
      time: new Date().toISOString(),
      sagaId: d.envelope.sagaId,
      sagaType: d.envelope.sagaType,
      // The saga keeps the contract version it started with, whoever emits next.
      ...(d.envelope.sagaVersion !== undefined ? { sagaVersion: d.envelope.sagaVersion } : {}),
      sagaRole: options?.role ?? derived?.role ?? 'step-completed',
      ...(stepName !== undefined ? { sagaStep: stepName } : {}),
      causationId: d.envelope.id,
      ...(traceparent !== undefined ? { traceparent } : {}),
    };
    const headers: Record<string, string> = toHeaders(env);
    const slipHeader = writeRoutingSlip(slip);
    if (slipHeader !== undefined) headers[ROUTING_SLIP_HEADER] = slipHeader;
    return { record: { topic: type.topic, key: env.sagaId, value, headers }, env };
  }
}
