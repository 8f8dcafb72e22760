import { TroupeError } from '@troupe/core';

/** Every way `@troupe/kafka` can fail; stable strings users may switch on. */
export type KafkaErrorCode = 'CONFIG_INVALID' | 'BROKER_UNAVAILABLE' | 'CONSUMER_START_FAILED';

const RETRIABLE: ReadonlySet<KafkaErrorCode> = new Set(['BROKER_UNAVAILABLE', 'CONSUMER_START_FAILED']);

/** The one error class of `@troupe/kafka`; the kafkajs error is kept as `cause`. */
export class KafkaError extends TroupeError<KafkaErrorCode> {
  override readonly name = 'KafkaError';

  constructor(code: KafkaErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, RETRIABLE, options.cause);
  }
}

/** Human-readable text of anything kafkajs throws, for logs and error messages. */
export function describeKafkaError(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}
