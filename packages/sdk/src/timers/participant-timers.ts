import type { SagaContract } from '@troupe/core';
import type { EventCodec, EventType } from '@troupe/schema-registry';
import type { Logger } from 'pino';
import { SdkError } from '../errors.js';
import type { Transport } from '../transport/transport.js';
import type { TimeoutEvent } from './abort.js';
import type { Clock } from './clock.js';
import { SagaClock, clockedContracts } from './saga-clock.js';
import { scheduledEventFirer } from './scheduled-events.js';
import { TimerService } from './timer-service.js';

/** What a participant runs for time: its timer service and, as an initiator, its saga clock. */
export interface ParticipantTimers {
  readonly service: TimerService;
  readonly sagaClock: SagaClock | undefined;
  /** Topics the saga clock consumes besides the handlers' (saga events, control topics). */
  readonly topics: readonly string[];
}

/**
 * Builds the participant's timers when it has a timer topic; refuses (CONTRACT_MISMATCH) an
 * initiator whose contracts act on time without the event types or payload builders it needs.
 */
export function participantTimers(args: {
  readonly participant: string;
  readonly groupId: string;
  readonly timers: { readonly topic: string; readonly maxFiredPerBatch: number; readonly lateAnswerWindowMs: number } | undefined;
  readonly contracts: readonly SagaContract[];
  readonly events: readonly EventType[];
  readonly timeouts: readonly TimeoutEvent[];
  readonly transport: Transport;
  readonly codec: EventCodec;
  readonly clock: Clock;
  readonly logger: Logger;
}): ParticipantTimers | undefined {
  const { timers } = args;
  if (!timers) return undefined;
  const contracts = clockedContracts(args.participant, args.contracts, args.timeouts);
  const known = new Map<string, EventType>(args.events.map((e) => [e.name, e]));
  for (const t of args.timeouts) known.set(t.type.name, t.type);
  const problems = SagaClock.problems(args.participant, contracts, known, args.timeouts);
  if (problems.length > 0) throw new SdkError('CONTRACT_MISMATCH', `participant ${args.participant}: ${problems.join('; ')}`);
  let sagaClock: SagaClock | undefined;
  const service = new TimerService({
    transport: args.transport,
    topic: timers.topic,
    clock: args.clock,
    logger: args.logger,
    maxFiredPerBatch: timers.maxFiredPerBatch,
    firers: {
      event: scheduledEventFirer(args.clock),
      deadline: (t, p) => sagaClock?.fire(t, p) ?? Promise.resolve([]),
      within: (t, p) => sagaClock?.fire(t, p) ?? Promise.resolve([]),
      ended: () => Promise.resolve([]),
    },
  });
  if (contracts.length > 0) {
    sagaClock = new SagaClock({
      participant: args.participant,
      groupId: args.groupId,
      contracts,
      known,
      timeouts: args.timeouts,
      codec: args.codec,
      clock: args.clock,
      logger: args.logger,
      timerTopic: timers.topic,
      lateWindowMs: timers.lateAnswerWindowMs,
      pending: (partition, key) => service.get(partition, key),
    });
  }
  return { service, sagaClock, topics: sagaClock?.topics ?? [] };
}
