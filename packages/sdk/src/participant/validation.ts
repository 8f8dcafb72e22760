import type { EnvelopeError, EventEnvelope } from '@troupe/core';
import type { DeadLetterReason } from '../dead-letter/dead-letter.js';
import type { InboundMessage } from '../transport/transport.js';

/** Why a record is refused at the participant's boundary, and the words for the dead letter. */
export interface BoundaryProblem {
  readonly reason: DeadLetterReason;
  readonly error: string;
}

/** MISSING_HEADER when every problem is a missing `ce_*` header, MALFORMED_ENVELOPE otherwise. */
export function envelopeProblem(err: EnvelopeError): BoundaryProblem {
  const missing = err.problems.every((p) => p.startsWith('missing header'));
  return { reason: missing ? 'MISSING_HEADER' : 'MALFORMED_ENVELOPE', error: err.message };
}

/**
 * Checks what co-partitioning and per-saga order rest on, for a record this participant would
 * handle: a key, equal to `ce_sagaid`, and an event type on the topic its contract puts it on
 * (`home`). Returns the first problem, or undefined when the record may be handled.
 */
export function boundaryProblem(message: InboundMessage, env: EventEnvelope, home: string | undefined): BoundaryProblem | undefined {
  const key = message.key?.toString('utf8');
  if (key === undefined || key === '') {
    return {
      reason: 'INVALID_KEY',
      error: `${env.type} ${env.id} has ${key === undefined ? 'no' : 'an empty'} key; the key must be the saga id (${env.sagaId}) so the saga's events share a partition`,
    };
  }
  if (key !== env.sagaId) {
    return {
      reason: 'SAGA_ID_MISMATCH',
      error: `${env.type} ${env.id} has key '${key}' but ce_sagaid '${env.sagaId}'; the producer must key each event by its saga id`,
    };
  }
  if (home !== undefined && home !== message.topic) {
    return {
      reason: 'UNEXPECTED_TYPE',
      error: `${env.type} belongs on topic ${home}, not ${message.topic}; the saga contract does not allow it here`,
    };
  }
  return undefined;
}
