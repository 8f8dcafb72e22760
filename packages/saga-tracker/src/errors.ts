import { TroupeError } from '@troupe/core';

/** Every way the tracker can fail; stable strings users may switch on. */
export type TrackerErrorCode =
  | 'INVALID_OPTIONS'
  | 'INVALID_QUERY'
  | 'TOPIC_MISSING'
  | 'BROKER_UNAVAILABLE'
  | 'STORE_UNAVAILABLE'
  | 'STORE_CONFLICT'
  | 'CONTRACTS_INVALID'
  | 'DECODE_FAILED';

const RETRIABLE: ReadonlySet<TrackerErrorCode> = new Set(['BROKER_UNAVAILABLE', 'STORE_UNAVAILABLE', 'STORE_CONFLICT']);

/**
 * The one error class of `@troupe/saga-tracker`. `code` says what happened, `retriable` whether
 * trying again can help, and the message says what to do about it.
 */
export class TrackerError extends TroupeError<TrackerErrorCode> {
  override readonly name = 'TrackerError';

  constructor(code: TrackerErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, RETRIABLE, options.cause);
  }
}
