/**
 * A saga contract (`schemas/sagas/*.saga.yaml`): the shared description of a choreography — its
 * start event, its steps with the participant that owns each, and its end events. It orchestrates
 * nothing; the SDK checks handlers against it and the tracker derives progress and stuck reasons.
 * Durations are milliseconds here (the YAML says `30s`, `5m`).
 */
export interface SagaContract {
  /** Saga type, e.g. `order-fulfillment`; the `ce_sagatype` header. */
  readonly saga: string;
  /**
   * Version of this contract of the saga type. The initiator stamps it on every saga it starts
   * (`ce_sagaversion`); participants and the tracker follow the version a saga started with, so
   * old and new versions run side by side while sagas are in flight. @default 1
   */
  readonly version?: number;
  /** Event type (Avro full name) that starts a saga of this type. */
  readonly start: string;
  /** Participant that publishes the start and end events, when declared. */
  readonly initiator?: string;
  /** Whole-saga deadline in ms; past it, a non-terminal saga is stuck. */
  readonly deadlineMs?: number;
  /**
   * What happens when the deadline or a step's `within` passes (a step may say otherwise):
   * `report-only` (the tracker reports the saga stuck), `abort` (the initiator emits the
   * `end.aborted` event and the earlier steps compensate) or `fail-step` (the initiator emits the
   * awaited step's failure event). See docs/time.md.
   * @default 'report-only'
   */
  readonly onTimeout?: TimeoutAction;
  /**
   * The steps in contract order. Branches of a parallel group are adjacent and carry the group's
   * name in `parallel`; {@link contractStages} gives the fork/join structure.
   */
  readonly steps: readonly SagaStepContract[];
  readonly end: {
    readonly completed: string;
    readonly aborted: string;
  };
  /** Business attributes operators search sagas by (the tracker indexes them). @default none */
  readonly attributes?: readonly SagaAttribute[];
}

/** A business attribute of a saga, read from one field of one of its events' payloads. */
export interface SagaAttribute {
  /** What operators filter by, e.g. `customerId`. */
  readonly name: string;
  /** Event type (Avro full name) whose payload carries the value. */
  readonly from: string;
  /** Field path into that payload, e.g. `['shippingAddress', 'country']`. */
  readonly path: readonly string[];
}

/** What a saga's initiator does when a deadline or step limit passes (docs/time.md). */
export const TIMEOUT_ACTIONS = ['abort', 'fail-step', 'report-only'] as const;
export type TimeoutAction = (typeof TIMEOUT_ACTIONS)[number];

/**
 * Whether a contract acts on time anywhere: its saga `deadline` or a step's `within` with an
 * `onTimeout` other than `report-only`. Its initiator then keeps timers (`<initiator>.timers`) and
 * answers the saga type's control topic (docs/time.md); the ACL plan grants both.
 */
export function actsOnTime(c: Pick<SagaContract, 'deadlineMs' | 'onTimeout' | 'steps'>): boolean {
  const saga = c.onTimeout ?? 'report-only';
  if (c.deadlineMs !== undefined && saga !== 'report-only') return true;
  return c.steps.some((s) => s.withinMs !== undefined && (s.onTimeout ?? saga) !== 'report-only');
}

export interface SagaStepContract {
  readonly name: string;
  readonly participant: string;
  /** Event type emitted when the step succeeds. */
  readonly completed: string;
  /** Event type emitted when the step fails (also emitted by the SDK when a handler gives up). */
  readonly failed: string;
  /** Event type emitted when the step's effect has been undone, if the step is compensable. */
  readonly compensated?: string;
  /** Event type emitted when undoing the step failed, if declared. */
  readonly compensationFailed?: string;
  /** How long after the previous step's completion this step may take, in ms. */
  readonly withinMs?: number;
  /** What happens when `within` passes. @default the saga's `onTimeout` */
  readonly onTimeout?: TimeoutAction;
  /**
   * Name of the parallel group (fork/join) this step is a branch of: the group's branches start on
   * the same event, and what follows the group waits for every branch. @default not in a group
   */
  readonly parallel?: string;
  /**
   * An optional step may fail without failing the saga: its `failed` event means "not done", nothing
   * compensates for it, and the saga goes on as after its completion. @default false
   */
  readonly optional?: boolean;
}

/**
 * One stage of a saga: a single step, or a parallel group whose branches run at the same time.
 * The next stage starts when every step of this one has an outcome that lets the saga go on.
 */
export interface SagaStage {
  /** The parallel group's name; undefined for a single step. */
  readonly parallel: string | undefined;
  readonly steps: readonly SagaStepContract[];
}

/** The saga's stages in order: consecutive steps of one parallel group form one stage. */
export function contractStages(c: SagaContract): SagaStage[] {
  const stages: { parallel: string | undefined; steps: SagaStepContract[] }[] = [];
  for (const s of c.steps) {
    const last = stages[stages.length - 1];
    if (s.parallel !== undefined && last?.parallel === s.parallel) last.steps.push(s);
    else stages.push({ parallel: s.parallel, steps: [s] });
  }
  return stages;
}

/** Index of the stage holding step `name`, -1 when the contract has no such step. */
export function stageIndexOf(c: SagaContract, name: string): number {
  return contractStages(c).findIndex((st) => st.steps.some((s) => s.name === name));
}

/** The event types after which the saga goes on past step `s`: its completion, or either outcome when optional. */
export function continuingOutcomes(s: SagaStepContract): readonly string[] {
  return s.optional === true ? [s.completed, s.failed] : [s.completed];
}

/**
 * What step `name` waits for before it starts: one event of each inner list. The first stage waits
 * for the start event; a step after a single step waits for that step's continuing outcome; a step
 * after a parallel group waits for one continuing outcome of every branch (a join). Empty when the
 * contract has no such step.
 */
export function stepAwaits(c: SagaContract, name: string): readonly (readonly string[])[] {
  const stages = contractStages(c);
  const i = stages.findIndex((st) => st.steps.some((s) => s.name === name));
  if (i < 0) return [];
  const previous = stages[i - 1];
  return previous === undefined ? [[c.start]] : previous.steps.map(continuingOutcomes);
}

/**
 * The failure events that make step `name` compensate: those of the other branches of its
 * parallel group and of every later step, optional steps excepted (their failure does not fail
 * the saga). Empty when the contract has no such step.
 */
export function compensationTriggersOf(c: SagaContract, name: string): readonly string[] {
  const stages = contractStages(c);
  const i = stages.findIndex((st) => st.steps.some((s) => s.name === name));
  if (i < 0) return [];
  return stages
    .slice(i)
    .flatMap((st) => st.steps)
    .filter((s) => s.name !== name && s.optional !== true)
    .map((s) => s.failed);
}

/** A contract's version: {@link SagaContract.version}, 1 when not declared. */
export function contractVersion(c: SagaContract): number {
  return c.version ?? 1;
}

/**
 * The contract a saga follows: the one of its type and version (no version: 1). Undefined when no
 * contract of that version is known.
 */
export function contractFor(contracts: readonly SagaContract[], saga: string, version: number | undefined): SagaContract | undefined {
  const v = version ?? 1;
  return contracts.find((c) => c.saga === saga && contractVersion(c) === v);
}

/** The newest contract of a saga type: the version an initiator starts new sagas with. */
export function latestContract(contracts: readonly SagaContract[], saga: string): SagaContract | undefined {
  let latest: SagaContract | undefined;
  for (const c of contracts) if (c.saga === saga && (latest === undefined || contractVersion(c) > contractVersion(latest))) latest = c;
  return latest;
}
