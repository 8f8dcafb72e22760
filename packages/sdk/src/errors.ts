import { TroupeError, type OptionChecks } from '@troupe/core';

/** Every way the SDK can fail; stable strings users may switch on. */
export type SdkErrorCode =
  | 'CONFIG_INVALID'
  | 'CONTRACT_MISMATCH'
  | 'TOPIC_PARTITIONS_MISMATCH'
  | 'PAYLOAD_INVALID'
  | 'TRANSPORT_ERROR'
  | 'CLOSED'
  | 'HANDLER_FAILED'
  | 'IDEMPOTENCY_STORE_ERROR'
  | 'TIMEOUT'
  /** The broker refused the client's SASL credentials. */
  | 'AUTHENTICATION_FAILED'
  /** An ACL does not allow what the client tried (topic, group, transactional id, cluster). */
  | 'NOT_AUTHORIZED'
  /** A step handler returned without `ctx.complete(...)` or `ctx.fail(...)`. */
  | 'STEP_WITHOUT_OUTCOME'
  /** The consumer stopped for good; `participant.run()` rejects with this. */
  | 'CONSUMER_CRASHED'
  /** The PostgreSQL outbox (or its inbox) could not be read or written; tried again. */
  | 'OUTBOX_STORE_ERROR'
  /** The outbox schema is older than this SDK and migrating on start-up was not allowed. */
  | 'OUTBOX_NOT_MIGRATED'
  /** A handler's circuit breaker is open: the event waits for it to close instead of failing. */
  | 'CIRCUIT_OPEN'
  /** A handler's bulkhead stayed full (`overflow: 'retry-topic'`): the event moves to the retry topic. */
  | 'BULKHEAD_FULL'
  /** The broker refuses a handler's output for good (too large, invalid, not authorised): the step gives up. */
  | 'OUTPUT_REFUSED';

const RETRIABLE: ReadonlySet<SdkErrorCode> = new Set([
  'TRANSPORT_ERROR',
  'IDEMPOTENCY_STORE_ERROR',
  'TIMEOUT',
  'OUTBOX_STORE_ERROR',
  'CIRCUIT_OPEN',
  'BULKHEAD_FULL',
]);

/**
 * The one error class of `@troupe/sdk`. `code` says what happened, `retriable` whether trying again
 * can help, and the message says what to do about it. The underlying error is kept as `cause`.
 */
export class SdkError extends TroupeError<SdkErrorCode> {
  override readonly name = 'SdkError';

  constructor(code: SdkErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, RETRIABLE, options.cause);
  }
}

/** Human-readable text of anything thrown, for logs and dead-letter headers. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}

/** Throws CONFIG_INVALID naming what was configured and every problem the checks found. */
export function throwIfInvalid(check: OptionChecks, subject: string): void {
  check.throwIfAny((problems) => new SdkError('CONFIG_INVALID', `${subject}: ${problems}`));
}
