import type { Logger } from 'pino';
import type { ParticipantMetrics } from '../operations/metrics.js';
import type { InboundMessage, OutboundRecord } from '../transport/transport.js';
import { deadLetterRecord, type DeadLetterReason } from './dead-letter.js';

/** Cap on sagas remembered as dead-lettered; the oldest are forgotten first. */
const DEAD_SAGAS_CAP = 100_000;

/**
 * A participant's dead-lettering: builds the record for the source topic's dead-letter topic,
 * counts and logs it, and remembers sagas whose events were given up on, so their later forward
 * events are dead-lettered too instead of running on a saga that is already broken.
 */
export class DeadLetterer {
  private readonly deadSagas = new Set<string>();

  constructor(
    private readonly deps: {
      readonly participant: string;
      readonly topicFor: (topic: string) => string;
      readonly instruments: ParticipantMetrics;
      readonly logger: Logger;
    },
  ) {}

  record(message: InboundMessage, reason: DeadLetterReason, error: string, more: { attempts?: number; log?: Logger } = {}): OutboundRecord {
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
    });
  }

  isDead(sagaId: string): boolean {
    return this.deadSagas.has(sagaId);
  }

  rememberDead(sagaId: string): void {
    this.deadSagas.add(sagaId);
    if (this.deadSagas.size > DEAD_SAGAS_CAP) {
      const oldest = this.deadSagas.values().next().value;
      if (oldest !== undefined) this.deadSagas.delete(oldest);
    }
  }
}
