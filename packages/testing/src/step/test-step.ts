// Runs one saga step's handler (or its compensation) the way a participant runs it, without a
// transport: the same handler context the SDK builds (`EventContext`), the same encoding of every
// emitted payload, the same routing-slip log. What comes out is what the step did.
import { randomUUID } from 'node:crypto';
import type { EventEnvelope, SagaContract, SagaRole } from '@troupe/core';
import { MemorySchemaRegistry, type EventCodec, type EventType } from '@troupe/schema-registry';
import {
  EventContext,
  MemoryIdempotencyStore,
  readRoutingSlip,
  type CompensationTrigger,
  type HandlerDefinition,
  type IdempotencyStore,
  type StepDefinition,
} from '@troupe/sdk';
import { pino, type Logger } from 'pino';
import { TestingError } from '../kafka/errors.js';

export interface TestStepOptions {
  /**
   * `ctx.attempt` of the run: 1 is the first delivery, 2, 3, ... are in-place retries.
   * @default 1
   */
  readonly attempt?: number;
  /** @default a fresh id per call */
  readonly sagaId?: string;
  /**
   * `ce_id` of the handled event. With the same `store`, two runs with the same id are a
   * redelivery: `ctx.once` returns the stored result instead of running the effect again.
   * @default a fresh id per call
   */
  readonly eventId?: string;
  /** @default 'test-saga' */
  readonly sagaType?: string;
  /**
   * Where `ctx.once` keeps results. Pass the same store to two runs to see what a redelivery does.
   * @default a new MemoryIdempotencyStore
   */
  readonly store?: IdempotencyStore;
  /**
   * Encodes every payload, as on the wire: an invalid one fails as it would in production.
   * @default a new MemorySchemaRegistry
   */
  readonly codec?: EventCodec;
  /** For the saga role of events emitted with `ctx.emit`. @default [] */
  readonly contracts?: readonly SagaContract[];
  /** @default a silent pino logger */
  readonly logger?: Logger;
  /** @default 'test-participant' */
  readonly participant?: string;
}

export interface TestCompensationOptions<TLog> extends TestStepOptions {
  /**
   * Runs the step's compensation instead of its handler, with this log (what `ctx.complete`
   * recorded; `undefined` when the step never completed in this saga).
   */
  readonly log: TLog | undefined;
  /**
   * The event that triggers the compensation (usually a later step's failure event); the payload
   * argument is its payload.
   * @default a placeholder type `troupe.test.CompensationTrigger`
   */
  readonly trigger?: EventType;
}

/** One event the step emitted, decoded again from the bytes it would have sent. */
export interface EmittedEvent {
  readonly type: string;
  readonly topic: string;
  readonly role: SagaRole;
  readonly step: string | undefined;
  readonly payload: unknown;
  readonly envelope: EventEnvelope;
}

/**
 * What the step did.
 * - `completed`: it called `ctx.complete` (`completed.log` is what its compensation would get).
 * - `failed`: it called `ctx.fail`.
 * - `compensated`: its compensation called `ctx.compensated`.
 * - `none`: it returned without an outcome; in a running saga nothing would follow.
 * - `threw`: it threw `error`; for a handler, `failed` holds the event `onGiveUp` builds once the
 *   retries are used up (`byGiveUp: true`).
 */
export interface StepTestResult<TDone = unknown, TFail = unknown, TLog = unknown, TComp = unknown> {
  readonly outcome: 'completed' | 'failed' | 'compensated' | 'none' | 'threw';
  readonly completed: { readonly payload: TDone; readonly log: TLog | undefined } | undefined;
  readonly failed: { readonly payload: TFail; readonly byGiveUp: boolean } | undefined;
  readonly compensated: { readonly payload: TComp } | undefined;
  /** Everything it emitted, in order (including `ctx.emit`). */
  readonly emitted: readonly EmittedEvent[];
  /** What it threw; `undefined` unless `outcome` is `threw`. */
  readonly error: unknown;
}

type AnyStep = StepDefinition<unknown, unknown, unknown, unknown, unknown>;

const PLACEHOLDER_TRIGGER = 'troupe.test.CompensationTrigger';

/** Runs the step's compensation with `options.log`, `payload` being the triggering event's payload. */
export function testStep<TIn, TDone, TFail, TLog, TComp>(
  definition: StepDefinition<TIn, TDone, TFail, TLog, TComp>,
  payload: unknown,
  options: TestCompensationOptions<TLog>,
): Promise<StepTestResult<TDone, TFail, TLog, TComp>>;
/** Runs the step's handler on `payload`, as a participant would on the step's input event. */
export function testStep<TIn, TDone, TFail, TLog, TComp>(
  definition: StepDefinition<TIn, TDone, TFail, TLog, TComp>,
  payload: TIn,
  options?: TestStepOptions,
): Promise<StepTestResult<TDone, TFail, TLog, TComp>>;
/** The same for a definition made by `step(...)`, whose types `step` erases. */
export function testStep(
  definition: HandlerDefinition,
  payload: unknown,
  options?: TestStepOptions | TestCompensationOptions<unknown>,
): Promise<StepTestResult>;
export async function testStep(
  definition: HandlerDefinition,
  payload: unknown,
  options: TestStepOptions | TestCompensationOptions<unknown> = {},
): Promise<StepTestResult> {
  if (definition.kind !== 'step') {
    throw new TestingError(
      'INVALID_OPTIONS',
      `testStep runs saga steps; this is an on(...) handler (kind '${definition.kind}'). Call its handle function directly, or use SagaHarness.`,
    );
  }
  const def = definition as unknown as AnyStep;
  const attempt = options.attempt ?? 1;
  if (!Number.isInteger(attempt) || attempt < 1)
    throw new TestingError('INVALID_OPTIONS', `testStep attempt ${attempt} must be an integer >= 1 (1 = first delivery).`);
  const codec = options.codec ?? new MemorySchemaRegistry();
  const compensation = 'log' in options ? options : undefined;
  const inputType = compensation ? compensation.trigger : def.on;
  const envelope: EventEnvelope = {
    id: options.eventId ?? randomUUID(),
    source: 'troupe-test',
    type: inputType?.name ?? PLACEHOLDER_TRIGGER,
    time: new Date().toISOString(),
    sagaId: options.sagaId ?? `saga-${randomUUID()}`,
    sagaType: options.sagaType ?? 'test-saga',
    sagaRole: compensation ? 'step-failed' : 'start',
  };
  // The handler sees what the runtime would decode: defaults filled, an invalid payload refused.
  const input = inputType ? (await codec.decode(await codec.encode(inputType, payload), inputType)).payload : payload;
  const contextAt = (n: number): EventContext =>
    new EventContext({
      participant: options.participant ?? 'test-participant',
      groupId: options.participant ?? 'test-participant',
      codec,
      contracts: options.contracts ?? [],
      store: options.store ?? new MemoryIdempotencyStore(),
      logger: options.logger ?? pino({ level: 'silent' }),
      route: `${compensation ? 'compensate' : 'step'}:${def.name}`,
      envelope,
      slip: compensation && compensation.log !== undefined ? { [def.name]: compensation.log } : {},
      attempt: n,
      step: { name: def.name, completed: def.completed, failed: def.failed, ...(def.compensated ? { compensated: def.compensated } : {}) },
    });

  let ctx = contextAt(attempt);
  let error: unknown;
  let threw = false;
  try {
    if (compensation) {
      const trigger: CompensationTrigger = { type: envelope.type, payload: input, envelope };
      if (def.compensate) await def.compensate({ log: compensation.log, trigger, ctx });
    } else {
      await def.handle({ payload: input, ctx });
    }
  } catch (err) {
    threw = true;
    error = err;
    if (!compensation) {
      // As the runtime does once retries are used up: the failure event onGiveUp builds.
      ctx = contextAt(attempt + 1);
      await ctx.fail(def.onGiveUp({ payload: input, error: err, ctx }));
    }
  }
  return summarize(ctx, codec, def.name, { threw, error });
}

async function summarize(
  ctx: EventContext,
  codec: EventCodec,
  step: string,
  run: { threw: boolean; error: unknown },
): Promise<StepTestResult> {
  const emitted: EmittedEvent[] = [];
  let completed: StepTestResult['completed'];
  let failed: StepTestResult['failed'];
  let compensated: StepTestResult['compensated'];
  for (const [i, record] of ctx.outputs.entries()) {
    const envelope = ctx.emitted[i] as EventEnvelope;
    const payload = record.value === null ? null : (await codec.decode(record.value)).payload;
    emitted.push({ type: envelope.type, topic: record.topic, role: envelope.sagaRole, step: envelope.sagaStep, payload, envelope });
    if (envelope.sagaStep !== step) continue;
    if (envelope.sagaRole === 'step-completed') completed ??= { payload, log: readRoutingSlip(record.headers)[step] };
    else if (envelope.sagaRole === 'step-failed') failed ??= { payload, byGiveUp: run.threw };
    else if (envelope.sagaRole === 'compensated') compensated ??= { payload };
  }
  const outcome: StepTestResult['outcome'] = run.threw
    ? 'threw'
    : compensated
      ? 'compensated'
      : completed
        ? 'completed'
        : failed
          ? 'failed'
          : 'none';
  return { outcome, completed, failed, compensated, emitted, error: run.error };
}
