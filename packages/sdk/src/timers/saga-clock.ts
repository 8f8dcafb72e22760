import {
  actsOnTime,
  formatDuration,
  headerString,
  parseEnvelope,
  toHeaders,
  type EventEnvelope,
  type SagaContract,
  type SagaRole,
  type SagaStepContract,
  type TimeoutAction,
} from '@troupe/core';
import type { EventCodec, EventType } from '@troupe/schema-registry';
import type { Logger } from 'pino';
import { encodeOrThrow } from '../participant/encode.js';
import { derivedEventId } from '../participant/event-context.js';
import { ROUTING_SLIP_HEADER } from '../participant/routing-slip.js';
import type { InboundMessage, OutboundRecord } from '../transport/transport.js';
import { ABORT_HEADER, type AbortCause, type TimeoutEvent, type TimeoutInfo } from './abort.js';
import type { Clock } from './clock.js';
import { abortReplyRecord, controlTopicOf, readAbortRequest, type AbortReply } from './control.js';
import { TIMER_HEADER, timerKey, timerRecord, timerTombstone, type Timer } from './timer-record.js';

// Shared with the ACL plan (troupe-schemas acl), which grants the timer and control topics it implies.
export { actsOnTime } from '@troupe/core';

/** The contracts whose clock `participant` keeps: it initiates them and they act on time or it can abort them. */
export function clockedContracts(
  participant: string,
  contracts: readonly SagaContract[],
  timeouts: readonly TimeoutEvent[],
): SagaContract[] {
  const builders = new Set(timeouts.map((t) => t.type.name));
  return contracts.filter((c) => c.initiator === participant && (actsOnTime(c) || builders.has(c.end.aborted)));
}

export interface SagaClockDeps {
  readonly participant: string;
  readonly groupId: string;
  /** Contracts this participant initiates and keeps the clock of ({@link clockedContracts}). */
  readonly contracts: readonly SagaContract[];
  /** Event types by name (the participant's `events` and handlers). */
  readonly known: ReadonlyMap<string, EventType>;
  readonly timeouts: readonly TimeoutEvent[];
  readonly codec: EventCodec;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly timerTopic: string;
  /** How long after a timeout or an abort late answers are recognised. */
  readonly lateWindowMs: number;
  /** A pending timer of the partition, as committed. */
  readonly pending: (partition: number, key: string) => Timer | undefined;
}

/** What observing one consumed record asks for: records to add, and whether its handlers are skipped. */
export interface Observed {
  readonly outputs: readonly OutboundRecord[];
  readonly skip: boolean;
}

const NOTHING: Observed = { outputs: [], skip: false };

/** A batch's not yet committed timer records of a saga, latest last (`undefined` = none, `null` = tombstone). */
export type TimerOverlay = (key: string) => Timer | null | undefined;

const SAGA = 'saga';
const WITHIN = 'within';

/**
 * The initiator's side of time (docs/time.md, ADR 0013). For every saga it starts it keeps one
 * `deadline` timer (due at the contract's deadline, or never: then it only marks the saga as
 * running, with the step awaited and the routing slip so far) and, while a step with an acting
 * `within` is awaited, one `within` timer. They are moved by the saga's events as the initiator
 * consumes them; on expiry the initiator emits the contract's abort event or the awaited step's
 * failure event, with who and why in `troupe_abort_*` headers, and keeps an `ended` mark so that a
 * late completion is not applied but compensated. An operator's abort request on the saga type's
 * control topic is answered the same way.
 */
export class SagaClock {
  private readonly bySaga = new Map<string, SagaContract>();
  private readonly controlTopics = new Map<string, SagaContract>();
  private readonly builders = new Map<string, TimeoutEvent>();

  constructor(private readonly deps: SagaClockDeps) {
    for (const c of deps.contracts) {
      this.bySaga.set(c.saga, c);
      this.controlTopics.set(controlTopicOf(c.saga), c);
    }
    for (const t of deps.timeouts) this.builders.set(t.type.name, t);
  }

  /**
   * Problems that keep the participant from starting: an event type of a clocked contract whose
   * topic is unknown, or a timeout with no payload builder for the event it must emit.
   */
  static problems(
    participant: string,
    contracts: readonly SagaContract[],
    known: ReadonlyMap<string, EventType>,
    timeouts: readonly TimeoutEvent[],
  ): string[] {
    const problems: string[] = [];
    const builders = new Set(timeouts.map((t) => t.type.name));
    for (const c of contracts) {
      for (const name of eventsOf(c)) {
        if (!known.has(name))
          problems.push(`${participant} keeps the clock of ${c.saga} but does not know event type ${name}; pass it in the events option`);
      }
      // The clock awaits one step at a time; branches and optional steps are not followed yet.
      if (actsOnTime(c) && c.steps.some((s) => s.parallel !== undefined || s.optional === true)) {
        problems.push(
          `${c.saga} has parallel groups or optional steps and time limits that act (onTimeout abort or fail-step); ` +
            'the initiator cannot act on them yet — use onTimeout: report-only (the tracker still reports the saga stuck)',
        );
      }
      const saga = c.onTimeout ?? 'report-only';
      const needs = new Set<string>([c.end.aborted]);
      if (saga === 'fail-step' && c.deadlineMs !== undefined) for (const s of c.steps) needs.add(s.failed);
      for (const s of c.steps) if (s.withinMs !== undefined && (s.onTimeout ?? saga) === 'fail-step') needs.add(s.failed);
      for (const name of needs) {
        if (!builders.has(name)) {
          problems.push(
            `${participant} initiates ${c.saga}, whose timeouts or aborts emit ${name}: pass timeoutEvent(${shortName(name)}, (info) => ({ ... })) in the timeouts option`,
          );
        }
      }
    }
    return problems;
  }

  /** Topics the initiator consumes for its clocks: the sagas' events and the control topics. */
  get topics(): readonly string[] {
    const topics = new Set<string>();
    for (const c of this.deps.contracts) {
      for (const name of eventsOf(c)) {
        const t = this.deps.known.get(name);
        if (t) topics.add(t.topic);
      }
      topics.add(controlTopicOf(c.saga));
    }
    return [...topics].sort();
  }

  /** Control topics: their records are requests and replies, never events for handlers. */
  isControl(topic: string): boolean {
    return this.controlTopics.has(topic);
  }

  /**
   * Moves the saga's timers for one consumed record (before its handlers run), or answers a
   * control request. `overlay` holds the batch's not yet committed timer records.
   */
  async observe(message: InboundMessage, overlay: TimerOverlay): Promise<Observed> {
    const control = this.controlTopics.get(message.topic);
    if (control) return { outputs: await this.control(control, message, overlay), skip: true };
    let env: EventEnvelope;
    try {
      env = parseEnvelope(message.headers);
    } catch {
      return NOTHING;
    }
    const c = this.bySaga.get(env.sagaType);
    if (!c || headerString(message.headers, TIMER_HEADER.kind) !== undefined) return NOTHING;
    const look = (name: string): Timer | undefined => {
      const key = timerKey(env.sagaId, name);
      const o = overlay(key);
      return o === null ? undefined : (o ?? this.deps.pending(message.partition, key));
    };
    const saga = look(SAGA);
    const within = look(WITHIN);
    const p = message.partition;
    const stepIndex = c.steps.findIndex((s) => s.completed === env.type);
    if (saga?.kind === 'ended') {
      if (stepIndex < 0) return NOTHING;
      return { outputs: await this.late(c, env, c.steps[stepIndex], headerString(message.headers, ROUTING_SLIP_HEADER)), skip: true };
    }
    const now = this.deps.clock.now();
    const slip = headerString(message.headers, ROUTING_SLIP_HEADER);
    if (env.type === c.start) {
      if (saga) return NOTHING;
      const acting = c.deadlineMs !== undefined && (c.onTimeout ?? 'report-only') !== 'report-only';
      const first = c.steps[0];
      const dueAt = acting ? now + (c.deadlineMs ?? 0) : Infinity;
      return { outputs: this.moveTo({ c, sagaId: env.sagaId, partition: p, dueAt, next: first, slip, within: undefined }), skip: false };
    }
    if (stepIndex >= 0) {
      const step = c.steps[stepIndex];
      if (!saga || !step || headerString(saga.headers, TIMER_HEADER.step) !== step.name) return NOTHING;
      const next = c.steps[stepIndex + 1];
      return { outputs: this.moveTo({ c, sagaId: env.sagaId, partition: p, dueAt: saga.dueAt, next, slip, within }), skip: false };
    }
    const failed = c.steps.find((s) => s.failed === env.type);
    if (failed) {
      const answered = within && headerString(within.headers, TIMER_HEADER.step) === failed.name;
      return { outputs: answered ? [timerTombstone(this.deps.timerTopic, p, within.key)] : [], skip: false };
    }
    if ((env.type === c.end.completed || env.type === c.end.aborted) && saga) {
      const gone = [saga, within].filter((t): t is Timer => t !== undefined);
      return { outputs: gone.map((t) => timerTombstone(this.deps.timerTopic, p, t.key)), skip: false };
    }
    return NOTHING;
  }

  /** Fires a `deadline` or `within` timer: the abort or failure event, and the saga's `ended` mark. */
  async fire(timer: Timer, partition: number): Promise<readonly OutboundRecord[]> {
    const c = this.bySaga.get(headerString(timer.headers, TIMER_HEADER.sagaType) ?? '');
    if (!c) return [];
    const saga = timer.kind === 'deadline' ? timer : this.deps.pending(partition, timerKey(timer.sagaId, SAGA));
    if (!saga || saga.kind !== 'deadline') return [];
    const stepName = headerString(timer.headers, TIMER_HEADER.step) || undefined;
    // A within timer of a step that is no longer awaited: nothing to do.
    if (timer.kind === 'within' && headerString(saga.headers, TIMER_HEADER.step) !== stepName) return [];
    const step = c.steps.find((s) => s.name === stepName);
    const action: TimeoutAction =
      timer.kind === 'deadline' ? (c.onTimeout ?? 'report-only') : (step?.onTimeout ?? c.onTimeout ?? 'report-only');
    if (action === 'report-only') return [];
    const reason =
      timer.kind === 'deadline'
        ? `saga deadline ${formatDuration(c.deadlineMs ?? 0)} passed${step ? ` while waiting for step ${step.name}` : ''}`
        : `step ${stepName ?? '?'} did not answer within ${formatDuration(step?.withinMs ?? 0)}`;
    const cause: AbortCause = timer.kind === 'deadline' ? 'deadline' : 'within';
    const info: TimeoutInfo = { sagaId: timer.sagaId, sagaType: c.saga, cause, step: step?.name, reason, by: this.deps.participant };
    return this.end({ c, partition, saga }, info, action === 'fail-step' && step ? step : undefined, [timer.key, String(timer.dueAt)]);
  }

  /** Emits the abort (or the step's failure) event, replaces the saga's timers by its `ended` mark. */
  private async end(
    at: { readonly c: SagaContract; readonly partition: number; readonly saga: Timer },
    info: TimeoutInfo,
    failStep: SagaStepContract | undefined,
    idParts: readonly string[],
  ): Promise<OutboundRecord[]> {
    const { c, partition, saga } = at;
    const slip = headerString(saga.headers, ROUTING_SLIP_HEADER);
    const event = failStep
      ? await this.event(failStep.failed, info, { role: 'step-failed', step: failStep.name, slip }, idParts)
      : await this.event(c.end.aborted, info, { role: 'end', slip }, idParts);
    const topic = this.deps.timerTopic;
    const withinKey = timerKey(info.sagaId, WITHIN);
    return [
      event,
      timerTombstone(topic, partition, withinKey),
      timerRecord({
        topic,
        partition,
        key: saga.key,
        sagaId: info.sagaId,
        kind: 'ended',
        dueAt: this.deps.clock.now() + this.deps.lateWindowMs,
        value: null,
        headers: {
          [TIMER_HEADER.sagaType]: c.saga,
          [TIMER_HEADER.step]: info.step ?? '',
          ...(slip !== undefined ? { [ROUTING_SLIP_HEADER]: slip } : {}),
        },
      }),
    ];
  }

  /** A step completed after the saga timed out or was aborted: not applied; that step compensates. */
  private async late(
    c: SagaContract,
    env: EventEnvelope,
    step: SagaStepContract | undefined,
    slip: string | undefined,
  ): Promise<OutboundRecord[]> {
    if (!step) return [];
    const log = this.deps.logger.child({ sagaId: env.sagaId, step: step.name, eventId: env.id });
    if (step.compensated === undefined) {
      log.warn(
        `late ${shortName(env.type)} after the saga timed out or was aborted: not applied; step ${step.name} declares no compensation`,
      );
      return [];
    }
    log.warn(`late ${shortName(env.type)} after the saga timed out or was aborted: not applied; asking step ${step.name} to compensate`);
    const info: TimeoutInfo = {
      sagaId: env.sagaId,
      sagaType: c.saga,
      cause: 'late',
      step: step.name,
      reason: `step ${step.name} completed after the saga had ended; its completion is undone`,
      by: this.deps.participant,
    };
    // The late completion's slip: it holds what the late step recorded for its compensation.
    return [await this.event(c.end.aborted, info, { role: 'end', slip }, [env.id, 'late'])];
  }

  private async control(c: SagaContract, message: InboundMessage, overlay: TimerOverlay): Promise<OutboundRecord[]> {
    const request = readAbortRequest(message);
    if (!request) return [];
    const key = timerKey(request.sagaId, SAGA);
    const o = overlay(key);
    const saga = o === null ? undefined : (o ?? this.deps.pending(message.partition, key));
    const reply = (r: AbortReply): OutboundRecord => abortReplyRecord(message.topic, message.partition, request, r);
    if (saga?.kind !== 'deadline') {
      const why =
        saga?.kind === 'ended'
          ? `saga ${request.sagaId} has already ended (timed out or aborted)`
          : `saga ${request.sagaId} is not running: it has ended, or ${this.deps.participant} never started it`;
      return [reply({ status: 'refused', message: `${why}; nothing was done` })];
    }
    const step = headerString(saga.headers, TIMER_HEADER.step) || undefined;
    const info: TimeoutInfo = { sagaId: request.sagaId, sagaType: c.saga, cause: 'operator', step, reason: request.reason, by: request.by };
    const outputs = await this.end({ c, partition: message.partition, saga }, info, undefined, [request.id, 'operator']);
    return [...outputs, reply({ status: 'accepted', message: `saga ${request.sagaId} aborted: ${shortName(c.end.aborted)} emitted` })];
  }

  /** The timer records for a saga now awaiting `next` (none: every step completed). */
  private moveTo(m: {
    readonly c: SagaContract;
    readonly sagaId: string;
    readonly partition: number;
    readonly dueAt: number;
    readonly next: SagaStepContract | undefined;
    readonly slip: string | undefined;
    readonly within: Timer | undefined;
  }): OutboundRecord[] {
    const { c, sagaId, partition, dueAt, next, slip, within } = m;
    const topic = this.deps.timerTopic;
    const now = this.deps.clock.now();
    const out: OutboundRecord[] = [
      timerRecord({
        topic,
        partition,
        key: timerKey(sagaId, SAGA),
        sagaId,
        kind: 'deadline',
        dueAt,
        value: null,
        headers: {
          [TIMER_HEADER.sagaType]: c.saga,
          [TIMER_HEADER.step]: next?.name ?? '',
          ...(slip !== undefined ? { [ROUTING_SLIP_HEADER]: slip } : {}),
        },
      }),
    ];
    const acting = next?.withinMs !== undefined && (next.onTimeout ?? c.onTimeout ?? 'report-only') !== 'report-only';
    if (next && acting) {
      out.push(
        timerRecord({
          topic,
          partition,
          key: timerKey(sagaId, WITHIN),
          sagaId,
          kind: 'within',
          dueAt: now + (next.withinMs ?? 0),
          value: null,
          headers: { [TIMER_HEADER.sagaType]: c.saga, [TIMER_HEADER.step]: next.name },
        }),
      );
    } else if (within) {
      out.push(timerTombstone(topic, partition, within.key));
    }
    return out;
  }

  private async event(
    typeName: string,
    info: TimeoutInfo,
    how: { readonly role: SagaRole; readonly step?: string; readonly slip: string | undefined },
    idParts: readonly string[],
  ): Promise<OutboundRecord> {
    const builder = this.builders.get(typeName);
    const type = builder?.type ?? this.deps.known.get(typeName);
    if (!builder || !type) throw new Error(`no timeoutEvent(${shortName(typeName)}, ...) in the timeouts option`);
    const value = await encodeOrThrow(this.deps.codec, type, builder.build(info));
    const env: EventEnvelope = {
      id: derivedEventId([this.deps.groupId, info.sagaId, info.cause, ...idParts]),
      source: this.deps.participant,
      type: type.name,
      time: new Date(this.deps.clock.now()).toISOString(),
      sagaId: info.sagaId,
      sagaType: info.sagaType,
      sagaRole: how.role,
      ...(how.step !== undefined ? { sagaStep: how.step } : {}),
    };
    const headers: Record<string, string> = {
      ...toHeaders(env),
      [ABORT_HEADER.cause]: info.cause,
      [ABORT_HEADER.reason]: info.reason,
      [ABORT_HEADER.by]: info.by,
      ...(info.step !== undefined ? { [ABORT_HEADER.step]: info.step } : {}),
      ...(how.slip !== undefined ? { [ROUTING_SLIP_HEADER]: how.slip } : {}),
    };
    return { topic: type.topic, key: info.sagaId, value, headers };
  }
}

function eventsOf(c: SagaContract): string[] {
  return [c.start, ...c.steps.flatMap((s) => [s.completed, s.failed]), c.end.completed, c.end.aborted];
}

const shortName = (name: string): string => name.slice(name.lastIndexOf('.') + 1);
