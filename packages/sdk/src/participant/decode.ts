import { SchemaRegistryError, type EventCodec, type EventType } from '@troupe/schema-registry';
import type { Logger } from 'pino';
import type { DeadLetterReason } from '../dead-letter/dead-letter.js';
import type { DeadLetterer } from '../dead-letter/dead-letterer.js';
import { describeError } from '../errors.js';
import type { InboundMessage } from '../transport/transport.js';
import { done, type MessageOutcome } from './outcomes.js';

/**
 * The record's payload, read with the handler's schema; or what to do instead: dead-letter what
 * can never be read (no value, unknown schema id, bad bytes), redeliver when the registry blinks.
 */
export async function decodePayload(
  deps: { readonly codec: EventCodec; readonly deadLetters: DeadLetterer },
  message: InboundMessage,
  reader: EventType | undefined,
  log: Logger,
): Promise<{ kind: 'payload'; payload: unknown } | { kind: 'outcome'; outcome: MessageOutcome }> {
  const dead = (reason: DeadLetterReason, error: string) =>
    ({ kind: 'outcome', outcome: done([deps.deadLetters.record(message, reason, error, { log })]) }) as const;
  if (message.value === null) return dead('UNDECODABLE_PAYLOAD', 'the record has no value');
  try {
    return { kind: 'payload', payload: (await deps.codec.decode(message.value, reader)).payload };
  } catch (err) {
    if (!(err instanceof SchemaRegistryError)) return dead('UNDECODABLE_PAYLOAD', describeError(err));
    if (err.retriable) return { kind: 'outcome', outcome: { kind: 'transient', reason: err.message } };
    return dead(err.code === 'UNKNOWN_SCHEMA_ID' ? 'UNKNOWN_SCHEMA_ID' : 'UNDECODABLE_PAYLOAD', err.message);
  }
}
