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
  /** The event that starts the step: the saga's start event or the previous step's completed event. */
  readonly on: EventType<TIn>;
  readonly completed: EventType<TDone>;
  readonly failed: EventType<TFail>;
  /** Absent when the contract declares no compensation for the step. */
  readonly compensated: EventType<TComp> | undefined;
  /** Emitted when undoing the step gives up; absent when the contract declares none. */
  readonly compensationFailed: EventType<TCompFail> | undefined;
  /** Failure events of the later steps: the step compensates when one of them happens. */
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
}): StepDescriptor<TIn, TDone, TFail, TComp, undefined, TCompFail> {
  const descriptor: StepDescriptor<TIn, TDone, TFail, TComp, undefined, TCompFail> = Object.freeze({
    saga: def.saga,
    name: def.name,
    participant: def.participant,
    on: def.on,
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
