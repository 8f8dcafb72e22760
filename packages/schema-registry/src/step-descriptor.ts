import type { EventType } from './event-type.js';

/**
 * One saga step as its contract declares it, with typed event types: what starts it (`on`), its
 * outcome events, and the failure events of later steps that make it compensate. Codegen emits
 * one per contract step (`orderFulfillment.payment`), so a handler restates nothing the contract
 * already says.
 */
export interface StepDescriptor<TIn = unknown, TDone = unknown, TFail = unknown, TComp = never, TLog = undefined, TCompFail = never> {
  /** Saga type, e.g. `order-fulfillment`. */
  readonly saga: string;
  /** Step name in the contract, e.g. `payment`. */
  readonly name: string;
  /** The participant that owns the step in the contract. */
  readonly participant: string;
  /**
   * The event that starts the step: the saga's start event or the previous step's completed event.
   * A step after an optional step or a parallel group waits for more (see `awaits`); `on` is then
   * the first of them and `TIn` the union of their payloads.
   */
  readonly on: EventType<TIn>;
  /**
   * What the step waits for: one event of each list. `[[on]]` after a single step; the completed
   * (and, for an optional step, the failed) event of the previous step; one such event of every
   * branch after a parallel group (a join).
   */
  readonly awaits: readonly (readonly EventType[])[];
  /** The parallel group the step is a branch of; undefined for a step on its own. */
  readonly parallel: string | undefined;
  /** An optional step may fail without failing the saga. */
  readonly optional: boolean;
  readonly completed: EventType<TDone>;
  readonly failed: EventType<TFail>;
  /** Absent when the contract declares no compensation for the step. */
  readonly compensated: EventType<TComp> | undefined;
  /** Emitted when undoing the step gives up; absent when the contract declares none. */
  readonly compensationFailed: EventType<TCompFail> | undefined;
  /** Failure events of its sibling branches and later steps (optional ones excepted): the step compensates when one of them happens. */
  readonly compensateOn: readonly EventType[];
  /** Phantom field carrying the compensation-log type; always `undefined` at run time. */
  readonly __log?: TLog;
  /**
   * The same step with the type of what `ctx.complete` records for its compensation, declared
   * once: `step(orderFulfillment.payment.withLog<PaymentLog>(), { ... })`.
   */
  withLog<L>(): StepDescriptor<TIn, TDone, TFail, TComp, L, TCompFail>;
}

/** Builds a {@link StepDescriptor}; used by generated modules. */
export function defineStep<TIn, TDone, TFail, TComp = never, TCompFail = never>(def: {
  saga: string;
  name: string;
  participant: string;
  on: EventType<TIn>;
  completed: EventType<TDone>;
  failed: EventType<TFail>;
  compensated?: EventType<TComp>;
  compensationFailed?: EventType<TCompFail>;
  compensateOn: readonly EventType[];
  /** @default [[on]] */
  awaits?: readonly (readonly EventType[])[];
  parallel?: string;
  optional?: boolean;
}): StepDescriptor<TIn, TDone, TFail, TComp, undefined, TCompFail> {
  const descriptor: StepDescriptor<TIn, TDone, TFail, TComp, undefined, TCompFail> = Object.freeze({
    saga: def.saga,
    name: def.name,
    participant: def.participant,
    on: def.on,
    awaits: Object.freeze((def.awaits ?? [[def.on]]).map((alternatives) => Object.freeze([...alternatives]))),
    parallel: def.parallel,
    optional: def.optional === true,
    completed: def.completed,
    failed: def.failed,
    compensated: def.compensated,
    compensationFailed: def.compensationFailed,
    compensateOn: Object.freeze([...def.compensateOn]),
    // The log type exists only for the compiler: the descriptor itself is the same object.
    withLog: <L>() => descriptor as unknown as StepDescriptor<TIn, TDone, TFail, TComp, L, TCompFail>,
  });
  return descriptor;
}
