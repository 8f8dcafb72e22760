import type { Context } from '@opentelemetry/api';
import { EnvelopeError, parseEnvelope, type EventEnvelope } from '@troupe/core';
import type { EventCodec } from '@troupe/schema-registry';
import type { Logger } from 'pino';
import { MARKER_HEADER } from '../dead-letter/dead-letter.js';
import type { DeadLetterer } from '../dead-letter/dead-letterer.js';
import type { DeadSagaBatch } from '../dead-letter/dead-sagas.js';
import { replayTargetOf } from '../dead-letter/replay.js';
import { describeError, SdkError } from '../errors.js';
import type { InboxBatch, InboxEntry } from '../inbox/inbox.js';
import type { ParticipantMetrics } from '../operations/metrics.js';
import { endSpan, logTraceFields, startProcessSpan } from '../operations/trace.js';
import { isRetriable } from '../retry/retry-policy.js';
import { originalOf, readRetryInfo, retryRecord } from '../retry/retry-topic.js';
import type { InboundMessage, OutboundRecord, PartitionBatch } from '../transport/transport.js';
import { lazyChild } from '../util/lazy-logger.js';
import { decodePayload } from './decode.js';
import type { Handling, HandlerRunner } from './handler-runner.js';
import { done, type MessageOutcome } from './outcomes.js';
import type { ParkedSagas, ParkingScope } from './parking.js';
import type { Clock } from '../timers/clock.js';
import { abortCompensates } from '../timers/abort.js';
import { routesFor, type Route, type RouteTable } from './routes.js';
import { readRoutingSlip } from './routing-slip.js';
import type { BatchBranches } from './branch-state.js';
import { boundaryProblem, envelopeProblem } from './validation.js';
import { oversizedOutput, type OutputRefusals } from './output-refusals.js';

export interface DispatcherDeps {
  readonly participant: string;
  /** The consumer group, for the process span. */
  readonly groupId: string;
  readonly codec: EventCodec;
  readonly routes: RouteTable;
  /** Topic of every event type the participant knows (its handlers' and the `events` option's). */
  readonly homeTopics: ReadonlyMap<string, string>;
  readonly retryTopic: { readonly topic: string; readonly delayMs: number; readonly attempts: number } | undefined;
  readonly parked: ParkedSagas;
  readonly runner: HandlerRunner;
  readonly deadLetters: DeadLetterer;
  readonly instruments: ParticipantMetrics;
  readonly logger: Logger;
  /** Time of retry-topic due dates (the transport's clock). */
  readonly clock: Clock;
  /** `max.message.bytes` of the topics the participant writes, where known (filled at start). */
  readonly outputLimits: ReadonlyMap<string, number>;
  /** Commits the broker refused, so the records behind them are given up instead of retried forever. */
  readonly refusals: OutputRefusals;
}

/** The batch a record belongs to, its parked-saga ledger and its inbox view. */
interface Turn {
  readonly batch: PartitionBatch;
  readonly ledger: ParkingScope;
  readonly inbox: InboxBatch | undefined;
  /** Sagas given up on: committed, and by records of this batch finished before. */
  readonly dead: DeadSagaBatch;
  /** The broker refused a commit with this record's outputs: why, and how many times. */
  readonly refused: { readonly reason: string; readonly times: number } | undefined;
  /** Parallel-group state (joins, branch logs); undefined for a participant without a timer topic. */
  readonly branches: BatchBranches | undefined;
}

/** A retry-topic record on its next pass: which pass, which handlers, and its key in the pass table. */
interface RetriedPass {
  readonly attempt: number;
  readonly routes: readonly string[] | undefined;
  readonly key: string;
}

/** Routes one consumed record: envelope, parked sagas, retry passes, decoding, handlers, failures. */
export class Dispatcher {
  constructor(private readonly deps: DispatcherDeps) {}

  /** `of`: the message's batch views: parked sagas, dead sagas, the inbox (none without one), parallel-group state. */
  async handle(
    message: InboundMessage,
    batch: PartitionBatch,
    of: {
      readonly ledger: ParkingScope;
      readonly dead: DeadSagaBatch;
      readonly inbox: InboxBatch | undefined;
      readonly branches?: BatchBranches | undefined;
    },
  ): Promise<MessageOutcome> {
    const { ledger, dead } = of;
    const turn = { batch, ...of, branches: of.branches, refused: this.deps.refusals.of(message) };
    if (message.headers[MARKER_HEADER] !== undefined) return done([]);
    // A dead-letter replay is addressed to one consumer group; the others skip it (ADR 0012).
    const replayFor = replayTargetOf(message.headers);
    if (replayFor !== undefined && replayFor !== this.deps.groupId) return done([]);
    const retry = this.deps.retryTopic;
    if (retry && message.topic === retry.topic) return this.handleRetryRecord(message, turn);
    let env: EventEnvelope;
    try {
      env = parseEnvelope(message.headers);
    } catch (err) {
      if (!(err instanceof EnvelopeError)) throw err;
      const problem = envelopeProblem(err);
      return done([this.deps.deadLetters.record(message, problem.reason, problem.error)]);
    }
    const home = this.deps.homeTopics.get(env.type);
    const routed = this.deps.routes.byType.has(env.type);
    // Types the participant does not know may belong to another saga sharing the topic: not its business.
    if (!routed && (home === undefined || home === message.topic)) return done([]);
    const problem = boundaryProblem(message, env, home);
    if (problem) return done([this.deps.deadLetters.record(message, problem.reason, problem.error)]);
    if (!routed) return done([]);
    if (replayFor !== undefined && !this.deps.deadLetters.admitReplay(message, env.sagaId, dead).handle) return done([]);
    if (retry && ledger.isParked(env.sagaId)) {
      // An earlier event of this saga waits in the retry topic: queue behind it, keep the order.
      ledger.park(env.sagaId, 1);
      return done([retryRecord({ message, retryTopic: retry.topic, attempt: 0, dueAt: this.deps.clock.now() })]);
    }
    return this.dispatch(message, env, turn, undefined);
  }

  private async handleRetryRecord(record: InboundMessage, turn: Turn): Promise<MessageOutcome> {
    const info = readRetryInfo(record);
    if (!info) {
      this.deps.logger.warn({ topic: record.topic, offset: record.offset }, 'record without retry headers on the retry topic; skipped');
      return done([]);
    }
    const key = `${record.partition}/${record.offset}`;
    const pass = this.deps.parked.passOf(key) ?? { attempt: info.attempt, dueAt: info.dueAt };
    if (pass.dueAt > this.deps.clock.now()) return { kind: 'not-due', dueAt: pass.dueAt };
    const original = originalOf(record, info);
    const env = parseEnvelope(original.headers);
    const outcome = await this.dispatch(original, env, turn, { attempt: pass.attempt, routes: info.routes, key });
    if (outcome.kind === 'done') {
      this.deps.parked.clearPass(key);
      turn.ledger.park(env.sagaId, -1);
    }
    return outcome;
  }

  private async dispatch(
    message: InboundMessage,
    env: EventEnvelope,
    turn: Turn,
    retried: RetriedPass | undefined,
  ): Promise<MessageOutcome> {
    const all = routesFor(this.deps.routes, env);
    const routed = (retried?.routes ? all.filter((r) => retried.routes?.includes(r.label)) : all).filter(
      // The contract's aborted event compensates only when the SDK emitted it for a timeout or an operator.
      (r) => r.kind !== 'compensate' || r.onAbort !== true || abortCompensates(message.headers, r.def.name),
    );
    if (routed.length === 0) return done([]);
    const routes = await notHandledYet(routed, env, turn.inbox);
    if (routes.length === 0) {
      this.deps.instruments.duplicates.inc({ participant: this.deps.participant, type: env.type });
      this.deps.logger.debug(
        { sagaId: env.sagaId, eventId: env.id, eventType: env.type, offset: message.offset },
        'duplicate event skipped',
      );
      return done([]);
    }
    const process = startProcessSpan(message, env, this.deps.groupId, env.sagaStep);
    let failure: unknown;
    try {
      const log = lazyChild(this.deps.logger, () => ({
        sagaId: env.sagaId,
        eventId: env.id,
        eventType: env.type,
        ...logTraceFields(process.span),
      }));
      const outcome = await this.dispatchRoutes({ message, env, turn, retried, routes, log, trace: process.ctx });
      if (outcome.kind === 'transient') failure = new Error(outcome.reason);
      return outcome;
    } catch (err) {
      failure = err;
      throw err;
    } finally {
      endSpan(process.span, failure);
    }
  }

  private async dispatchRoutes(r: {
    readonly message: InboundMessage;
    readonly env: EventEnvelope;
    readonly turn: Turn;
    readonly retried: RetriedPass | undefined;
    readonly routes: readonly Route[];
    readonly log: Logger;
    readonly trace: Context;
  }): Promise<MessageOutcome> {
    const { message, env, turn, retried, routes, log, trace } = r;
    const { deadLetters, participant } = this.deps;
    const decoded = await decodePayload(this.deps, message, routes[0]?.reader, log);
    if (decoded.kind !== 'payload') return decoded.outcome;

    const a: Handling = { message, env, payload: decoded.payload, slip: readRoutingSlip(message.headers), log, batch: turn.batch, trace };
    if (turn.refused) return done(await this.giveUpRefused(a, routes, turn.refused));
    const out: OutboundRecord[] = [];
    const failed: Failed[] = [];
    // Routes that ran to their end, and whether another route dead-lettered the event behind its saga.
    const ranToEnd: Route[] = [];
    let deadLettered = false;
    const overflowed: string[] = [];
    // Only fresh events overflow to the retry topic; there they wait for a permit like any other.
    const mayOverflow = this.deps.retryTopic !== undefined && retried === undefined;
    for (const route of routes) {
      if (route.kind !== 'compensate' && turn.dead.stateOf(env.sagaId) !== undefined) {
        out.push(
          deadLetters.record(message, 'SAGA_DEAD_LETTERED', `an earlier event of saga ${env.sagaId} was dead-lettered by ${participant}`, {
            log,
          }),
        );
        this.deps.instruments.handled.inc({ participant, type: env.type, outcome: 'skipped' });
        deadLettered = true;
        continue;
      }
      // Parallel groups (ADR 0017): a join runs on its last branch with every branch's slip; a
      // branch's compensation finds its log in the branch's record when the trigger lacks it.
      const branched = this.branched(route, a, turn.branches);
      if (branched.skip !== undefined) {
        out.push(...branched.outputs);
        log.debug({ route: route.label, reason: branched.skip }, 'step not started');
        ranToEnd.push(route);
        continue;
      }
      const handling = branched.handling;
      const result = await this.deps.runner.run(route, handling, mayOverflow);
      if (result.kind === 'transient') return result;
      // An open circuit: the event waits for it (its partition pauses); nothing is given up.
      if (result.kind === 'paused') return { kind: 'not-due', dueAt: result.until };
      if (result.kind === 'overflow') {
        overflowed.push(route.label);
        continue;
      }
      const tooLarge = result.kind === 'ok' ? oversizedOutput(result.outputs, this.deps.outputLimits) : undefined;
      if (tooLarge) failed.push({ route, error: tooLarge, attempts: 1, handling, outputs: branched.outputs });
      else if (result.kind === 'ok') {
        out.push(...result.outputs, ...branched.outputs, ...(turn.branches?.completed(route, a.env, result.outputs) ?? []));
        ranToEnd.push(route);
      } else failed.push({ route, error: result.error, attempts: result.attempts, handling, outputs: branched.outputs });
    }
    const retry = this.deps.retryTopic;
    if (overflowed.length > 0 && failed.length === 0 && retry) {
      // The handler's bulkhead stayed full: the event waits in the retry topic (due at once), its
      // saga's later events queue behind it, and the partition's other sagas go on.
      turn.ledger.park(env.sagaId, 1);
      log.debug({ routes: overflowed }, 'bulkhead full; the event moves to the retry topic');
      const dueAt = this.deps.clock.now();
      return done([...out, retryRecord({ message, retryTopic: retry.topic, attempt: 0, dueAt, routes: overflowed })]);
    }
    for (const label of overflowed) {
      const route = routes.find((x) => x.label === label);
      if (route) failed.push({ route, error: new SdkError('BULKHEAD_FULL', `bulkhead of ${label} stayed full`), attempts: 0 });
    }
    // Only an event whose handlers all ran to their end counts as handled: a dead-lettered one must
    // stay replayable (ADR 0011, amendment). Its routes that did run are recorded one by one, so a
    // replay or a duplicate runs only the others.
    const inbox = turn.inbox;
    if (inbox && ranToEnd.length > 0) {
      const whole = failed.length === 0 && !deadLettered;
      for (const id of whole ? [env.id] : ranToEnd.map((r) => routeInboxId(env.id, r.label))) {
        out.push(...inbox.handled({ ...inboxEntry(message, env), eventId: id }));
      }
    }
    if (failed.length === 0) return done(out);
    const after = await this.afterFailure(a, turn.ledger, failed, retried);
    return after.kind === 'done' ? done([...out, ...after.outputs]) : after;
  }

  /**
   * A route's handling in a parallel group: the slip it runs with and the branch records that go
   * with its outcome, or why it does not start (a join still waiting, a branch already undone).
   */
  private branched(
    route: Route,
    a: Handling,
    branches: BatchBranches | undefined,
  ): { readonly skip?: string; readonly handling: Handling; readonly outputs: readonly OutboundRecord[] } {
    if (branches === undefined || route.kind === 'on') return { handling: a, outputs: [] };
    if (route.kind === 'compensate') {
      const { slip, after } = branches.compensationLog(route, a.env, a.slip);
      return { handling: slip === a.slip ? a : { ...a, slip }, outputs: after };
    }
    const gate = branches.gate(route, a.env, a.slip);
    if (!gate.run) return { skip: gate.reason, handling: a, outputs: gate.outputs };
    return { handling: gate.slip === a.slip ? a : { ...a, slip: gate.slip }, outputs: gate.outputs };
  }

  /**
   * The broker refused a commit holding this record's outputs: the handlers give up with the
   * broker's reason (failure events, dead letter); when that was refused too, only the dead letter.
   */
  private async giveUpRefused(
    a: Handling,
    routes: readonly Route[],
    refused: { readonly reason: string; readonly times: number },
  ): Promise<OutboundRecord[]> {
    const error = new SdkError('OUTPUT_REFUSED', `the broker refused the outputs: ${refused.reason}`);
    if (refused.times > 1) {
      const why = `${error.message} (the failure event was refused too)`;
      return [this.deps.deadLetters.record(a.message, 'OUTPUT_REFUSED', why, { log: a.log, sagaState: 'dead' })];
    }
    const out: OutboundRecord[] = [];
    const giving = routes.filter((r) => r.kind !== 'compensate');
    for (const route of giving.length > 0 ? giving : routes.slice(0, 1)) out.push(...(await this.deps.runner.giveUp(route, a, error, 1)));
    return out;
  }

  /** Handlers failed: park the event in the retry topic, schedule its next pass, or give up. */
  private async afterFailure(
    a: Handling,
    ledger: ParkingScope,
    failed: readonly Failed[],
    retried: RetriedPass | undefined,
  ): Promise<MessageOutcome> {
    const retry = this.deps.retryTopic;
    const worthRetrying = retry !== undefined && failed.every((f) => isRetriable(f.error));
    const labels = { participant: this.deps.participant, type: a.env.type };
    if (worthRetrying && retried === undefined) {
      ledger.park(a.env.sagaId, 1);
      this.deps.instruments.retried.inc(labels);
      a.log.warn(
        { routes: failed.map((f) => f.route.label), err: describeError(failed[0]?.error) },
        'handler failed; moved to the retry topic',
      );
      const routes = failed.map((f) => f.route.label);
      const dueAt = this.deps.clock.now() + retry.delayMs;
      return done([retryRecord({ message: a.message, retryTopic: retry.topic, attempt: 1, dueAt, routes })]);
    }
    if (worthRetrying && retried !== undefined && retried.attempt < retry.attempts) {
      // Not committed: the record stays at the head of its retry partition until its next pass.
      const dueAt = this.deps.clock.now() + retry.delayMs * 2 ** retried.attempt;
      this.deps.parked.setPass(retried.key, { attempt: retried.attempt + 1, dueAt });
      this.deps.instruments.retried.inc(labels);
      a.log.warn({ pass: retried.attempt, err: describeError(failed[0]?.error) }, 'retry pass failed; trying again later');
      return { kind: 'not-due', dueAt };
    }
    const passes = retried ? Math.max(1, retried.attempt) + 1 : 1;
    const out: OutboundRecord[] = [];
    // Given up: a join's failure event carries every branch's slip, and its record goes (it was decided).
    for (const f of failed) {
      out.push(...(await this.deps.runner.giveUp(f.route, f.handling ?? a, f.error, f.attempts * passes)), ...(f.outputs ?? []));
    }
    return done(out);
  }
}

/** The inbox id of one route of an event: recorded when the event's other routes were dead-lettered. */
export const routeInboxId = (eventId: string, label: string): string => `${eventId}#${label}`;

/**
 * The routes of an event still to run: none when the inbox holds the event, else those whose own
 * inbox id (an earlier delivery ran them while another route dead-lettered the event) is not there.
 */
async function notHandledYet(routes: readonly Route[], env: EventEnvelope, inbox: InboxBatch | undefined): Promise<readonly Route[]> {
  if (!inbox) return routes;
  if (await inbox.seen(env.id)) return [];
  const left: Route[] = [];
  for (const r of routes) if (!(await inbox.seen(routeInboxId(env.id, r.label)))) left.push(r);
  return left;
}

/** A handler that failed, with the handling it ran with and the branch records its outcome decides. */
interface Failed {
  readonly route: Route;
  readonly error: unknown;
  readonly attempts: number;
  readonly handling?: Handling;
  readonly outputs?: readonly OutboundRecord[];
}

function inboxEntry(message: InboundMessage, env: EventEnvelope): InboxEntry {
  return {
    eventId: env.id,
    sagaId: env.sagaId,
    type: env.type,
    topic: message.topic,
    partition: message.partition,
    offset: message.offset,
  };
}
