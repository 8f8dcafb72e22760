import { TroupeError } from '@troupe/core';

/** Every way the schema layer can fail; stable strings users may switch on. */
export type SchemaRegistryErrorCode =
  | 'PAYLOAD_INVALID'
  | 'MALFORMED_FRAME'
  | 'UNKNOWN_SCHEMA_ID'
  | 'UNKNOWN_EVENT_TYPE'
  | 'INVALID_SCHEMA'
  | 'INVALID_CONTRACT'
  | 'INCOMPATIBLE_SCHEMA'
  | 'REGISTRY_UNAVAILABLE'
  | 'REGISTRY_ERROR'
  | 'REGISTRY_NOT_CONFIGURED';

const RETRIABLE: ReadonlySet<SchemaRegistryErrorCode> = new Set(['REGISTRY_UNAVAILABLE']);

/**
 * The one error class of `@troupe/schema-registry`. `code` says what happened, `retriable` whether
 * trying again can help, and the message says what to do about it.
 */
export class SchemaRegistryError extends TroupeError<SchemaRegistryErrorCode> {
  override readonly name = 'SchemaRegistryError';
  /** Where applicable: file, field path or subject the error is about. */
  readonly path: string | undefined;

  constructor(code: SchemaRegistryErrorCode, message: string, options: { cause?: unknown; path?: string } = {}) {
    super(code, message, RETRIABLE, options.cause);
    this.path = options.path;
  }
}
