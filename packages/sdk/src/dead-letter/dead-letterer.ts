import type { Logger } from 'pino';
import type { ParticipantMetrics } from '../operations/metrics.js';
import type { InboundMessage, OutboundRecord } from '../transport/transport.js';
import { deadLetterRecord, type DeadLetterReason, type DeadLetterSagaState } from './dead-letter.js';
import type { DeadSagaBatch, ReplayVerdict } from './dead-sagas.js';

/**
 * A participant's dead-lettering: builds the record for the source topic's dead-letter topic and
 * counts and logs it. The record says what it means for its saga (`sagaState`); the participant
 * remembers sagas given up on from its committed dead letters (see {@link DeadSagas}), so their
 * later forward events are dead-lettered too and replays of failed sagas are refused.
 */
export class DeadLetterer {
  constructor(
    private readonly deps: {
      readonly participant: string;
      readonly groupId: string;
      readonly topicFor: (topic: string) => string;
      readonly instruments: ParticipantMetrics;
      readonly logger: Logger;
    },
  ) {}

  record(
    message: InboundMessage,
    reason: DeadLetterReason,
    error: string,
    more: { attempts?: number; log?: Logger; failure?: string; sagaState?: DeadLetterSagaState } = {},
  ): OutboundRecord {
    const log = more.log ?? this.deps.logger;
    this.deps.instruments.deadLettered.inc({ participant: this.deps.participant, reason });
    log.warn({ reason, error, topic: message.topic, partition: message.partition, offset: message.offset }, 'event dead-lettered');
    return deadLetterRecord({
      message,
      topic: this.deps.topicFor(message.topic),
      reason,
      error,
      attempts: more.attempts ?? 0,
      participant: this.deps.participant,
      group: this.deps.groupId,
      ...(more.failure !== undefined ? { failure: more.failure } : {}),
      ...(more.sagaState !== undefined ? { sagaState: more.sagaState } : {}),
    });
  }

  /** A replay addressed to this group arrived: handle it, or refuse it with a logged, counted reason. */
  admitReplay(message: InboundMessage, sagaId: string, sagas: DeadSagaBatch, log: Logger = this.deps.logger): ReplayVerdict {
    const verdict = sagas.admitReplay(sagaId);
    const outcome = verdict.handle ? 'admitted' : 'refused';
    this.deps.instruments.replays.inc({ participant: this.deps.participant, outcome });
    if (!verdict.handle) log.warn({ sagaId, topic: message.topic, offset: message.offset, reason: verdict.reason }, 'replay refused');
    else log.info({ sagaId, topic: message.topic, offset: message.offset }, 'replayed event admitted');
    return verdict;
  }
}
