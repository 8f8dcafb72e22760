import { TroupeError } from '@troupe/core';

/** Every way the test kit can fail; stable strings users may switch on. */
export type TestingErrorCode =
  | 'JAVA_NOT_FOUND'
  | 'JAVA_TOO_OLD'
  | 'MAVEN_NOT_FOUND'
  | 'KAFKA_JARS_UNAVAILABLE'
  | 'PORT_IN_USE'
  | 'BROKER_FAILED'
  | 'START_TIMEOUT'
  | 'INVALID_OPTIONS'
  | 'INVALID_BROKERS'
  | 'KAFKA_BROKERS_MISSING'
  | 'CONTAINER_RUNTIME_UNAVAILABLE'
  | 'WAIT_TIMEOUT'
  | 'REGISTRY_UNAVAILABLE'
  | 'REGISTRY_FAILED';

const RETRIABLE: ReadonlySet<TestingErrorCode> = new Set(['PORT_IN_USE', 'START_TIMEOUT', 'WAIT_TIMEOUT']);

/**
 * The one error class of `@troupe/testing`. `code` says what happened, `retriable` whether trying
 * again can help, and the message says what to do about it.
 */
export class TestingError extends TroupeError<TestingErrorCode> {
  override readonly name = 'TestingError';

  constructor(code: TestingErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, RETRIABLE, options.cause);
  }
}
