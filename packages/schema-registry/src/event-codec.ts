import type { EventType } from './event-type.js';

/** A payload decoded from the wire, before or after resolution to a reader type. */
export interface DecodedEvent<TPayload = unknown> {
  /** Registry id of the writer schema, from the Confluent frame. */
  readonly schemaId: number;
  /** Avro full name of the writer schema. */
  readonly type: string;
  readonly payload: TPayload;
}

/**
 * Encodes and decodes event payloads as Avro with Confluent framing (magic byte 0, 4-byte
 * big-endian schema id, Avro binary). The SDK and the tracker touch payloads only through this.
 *
 * Errors are {@link SchemaRegistryError}s:
 * - `PAYLOAD_INVALID` when a payload does not match its schema (the message names the field);
 *   nothing has been registered or sent.
 * - `MALFORMED_FRAME` when bytes are not a Confluent-framed Avro record.
 * - `UNKNOWN_SCHEMA_ID` when the registry does not know the frame's schema id.
 * - `REGISTRY_UNAVAILABLE` (retriable) when the registry cannot be reached.
 */
export interface EventCodec {
  /** Validates, registers the schema if needed (cached after the first call) and encodes. */
  encode<T>(type: EventType<T>, payload: T): Promise<Buffer>;
  /**
   * Decodes a framed payload. With `reader`, the writer's data is resolved to the reader's schema
   * (Avro schema resolution) and typed accordingly; writer schemas are cached by id.
   */
  decode<T = unknown>(data: Buffer, reader?: EventType<T>): Promise<DecodedEvent<T>>;
}
