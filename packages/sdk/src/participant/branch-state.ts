import { stepAwaits, type EventEnvelope, type SagaContract } from '@troupe/core';
import type { TimerService } from '../timers/timer-service.js';
import { readTimer, timerKey, timerRecord, timerTombstone } from '../timers/timer-record.js';
import type { OutboundRecord } from '../transport/transport.js';
import type { Route } from './routes.js';
import { readRoutingSlip, ROUTING_SLIP_HEADER, type RoutingSlip } from './routing-slip.js';

/**
 * How long branch state outlives its last change before it is dropped: longer than any saga
 * should run, so only state of sagas that ended elsewhere (a join whose other branch failed, the
 * log of a branch nobody needs to undo) goes. Firing removes the record, nothing else.
 */
export const BRANCH_STATE_TTL_MS = 7 * 86_400_000;

/**
 * Whether a participant keeps parallel-group state (ADR 0017), so it needs its timer topic: it
 * owns a step that joins a group's branches, or a compensable branch (a sibling's failure does not
 * carry the branch's log in its routing slip, and may come before the branch's own trigger).
 */
export function needsBranchState(participant: string, contracts: readonly SagaContract[]): boolean {
  return contracts.some((c) =>
    c.steps.some(
      (s) =>
        s.participant === participant && (stepAwaits(c, s.name).length > 1 || (s.parallel !== undefined && s.compensated !== undefined)),
    ),
  );
}

/** A join's record: the routing slip each branch arrived with, by branch index. */
interface JoinState {
  readonly arrived: Readonly<Record<string, RoutingSlip>>;
}

/** A compensable branch's record: its log once it completed, `undone` once its compensation ran. */
interface BranchLog {
  readonly log?: unknown;
  readonly undone?: true;
}

const joinKey = (sagaId: string, step: string): string => timerKey(sagaId, `join:${step}`);
const branchKey = (sagaId: string, step: string): string => timerKey(sagaId, `branch:${step}`);

/**
 * The branch records one batch of a partition sees: what earlier messages of the batch wrote for
 * the saga (not committed yet; a saga's messages run one after the other), else what the timer
 * book holds (committed). Records are written as outputs of the message that changes them, so
 * they commit with its offsets in one transaction.
 */
export class BatchBranches {
  private readonly bySaga = new Map<string, OutboundRecord[]>();

  constructor(
    private readonly timers: TimerService,
    private readonly partition: number,
    private readonly now: () => number,
  ) {}

  /** Outputs of a finished message: its branch records are seen by the saga's later messages. */
  note(sagaId: string, outputs: readonly OutboundRecord[]): void {
    const mine = outputs.filter((r) => r.topic === this.timers.topic);
    if (mine.length > 0) this.bySaga.set(sagaId, [...(this.bySaga.get(sagaId) ?? []), ...mine]);
  }

  /**
   * Before a step route runs: whether it runs, with which routing slip, and which records go with
   * it. A join runs on its last branch with every branch's slip merged (so a later failure carries
   * every branch's log); earlier branches are recorded. A compensable branch whose compensation
   * already ran (a sibling failed first) does not start.
   */
  gate(route: Extract<Route, { kind: 'step' }>, env: EventEnvelope, slip: RoutingSlip): Gate {
    const step = route.def.name;
    if (route.def.parallel !== undefined && route.def.compensate !== undefined) {
      if (this.read<BranchLog>(env.sagaId, branchKey(env.sagaId, step))?.undone === true) {
        return { run: false, outputs: [], reason: `its saga already compensates step ${step} (a sibling branch failed first)` };
      }
    }
    const join = route.join;
    if (join === undefined) return { run: true, slip, outputs: [] };
    const key = joinKey(env.sagaId, step);
    const arrived = { ...(this.read<JoinState>(env.sagaId, key)?.arrived ?? {}) };
    if (arrived[String(join.branch)] !== undefined) {
      return { run: false, outputs: [], reason: `branch ${join.branch + 1} of the join had its outcome already` };
    }
    arrived[String(join.branch)] = slip;
    if (Object.keys(arrived).length < join.branches.length) {
      const waiting = join.branches.length - Object.keys(arrived).length;
      return {
        run: false,
        outputs: [this.record(env.sagaId, key, { arrived })],
        reason: `waiting for ${waiting} more branch${waiting > 1 ? 'es' : ''} of the parallel group`,
      };
    }
    const merged: Record<string, unknown> = {};
    for (const branchSlip of Object.values(arrived)) Object.assign(merged, branchSlip);
    return { run: true, slip: merged, outputs: [timerTombstone(this.timers.topic, this.partition, key)] };
  }

  /** A compensable branch completed: its log is kept for a compensation a sibling's failure triggers. */
  completed(route: Route, env: EventEnvelope, outputs: readonly OutboundRecord[]): OutboundRecord[] {
    if (route.kind !== 'step' || route.def.parallel === undefined || route.def.compensate === undefined) return [];
    for (const r of outputs) {
      const slip = readRoutingSlip(r.headers);
      if (r.headers[ROUTING_SLIP_HEADER] !== undefined && route.def.name in slip) {
        return [this.record(env.sagaId, branchKey(env.sagaId, route.def.name), { log: slip[route.def.name] })];
      }
    }
    return [];
  }

  /**
   * The log a branch's compensation gets: the trigger's routing slip has it when the trigger
   * descends from the branch's completion, else the branch's own record (a sibling failed). Once
   * undone, nothing is left to undo.
   */
  compensationLog(route: Route, env: EventEnvelope, slip: RoutingSlip): { slip: RoutingSlip; after: OutboundRecord[] } {
    if (route.kind !== 'compensate' || route.def.parallel === undefined) return { slip, after: [] };
    const step = route.def.name;
    const key = branchKey(env.sagaId, step);
    const kept = this.read<BranchLog>(env.sagaId, key);
    const log = kept?.undone === true ? undefined : (slip[step] ?? kept?.log);
    const { [step]: _own, ...rest } = slip;
    return { slip: log === undefined ? rest : { ...rest, [step]: log }, after: [this.record(env.sagaId, key, { undone: true })] };
  }

  private record(sagaId: string, key: string, state: JoinState | BranchLog): OutboundRecord {
    return timerRecord({
      topic: this.timers.topic,
      partition: this.partition,
      key,
      sagaId,
      kind: 'branch',
      dueAt: this.now() + BRANCH_STATE_TTL_MS,
      value: Buffer.from(JSON.stringify(state)),
    });
  }

  private read<T>(sagaId: string, key: string): T | undefined {
    const pending = this.bySaga.get(sagaId) ?? [];
    for (let i = pending.length - 1; i >= 0; i--) {
      const r = pending[i];
      if (r?.key?.toString() !== key) continue;
      const t = readTimer(r);
      return t?.value ? parse<T>(t.value) : undefined;
    }
    const t = this.timers.get(this.partition, key);
    return t?.value ? parse<T>(t.value) : undefined;
  }
}

/** What {@link BatchBranches.gate} decided: run the step (with this slip), or not (and why). */
export type Gate =
  | { readonly run: true; readonly slip: RoutingSlip; readonly outputs: readonly OutboundRecord[] }
  | { readonly run: false; readonly outputs: readonly OutboundRecord[]; readonly reason: string };

function parse<T>(value: Buffer): T | undefined {
  try {
    return JSON.parse(value.toString()) as T;
  } catch {
    return undefined;
  }
}
