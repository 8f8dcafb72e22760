import type { AvroRecordSchema, AvroSchema } from './avro-schema.js';
import type { CompatibilityLevel } from './compatibility.js';
import type { EventCodec } from './event-codec.js';
import type { EventType } from './event-type.js';

/** A schema version registered under a subject. */
export interface RegisteredVersion {
  readonly subject: string;
  readonly version: number;
  readonly id: number;
  readonly schema: AvroSchema;
}

/**
 * What Troupe needs from a schema registry: the {@link EventCodec} the SDK and the tracker use,
 * plus the operations of `troupe-schemas check|register`. Implemented in process
 * ({@link MemorySchemaRegistry}) and over Confluent's REST API ({@link ConfluentSchemaRegistry}).
 */
export interface SchemaRegistryClient extends EventCodec {
  /** Registers a schema under a subject (idempotent: the same schema gets the same id back). */
  register(subject: string, schema: AvroRecordSchema): Promise<number>;
  /** The registry id of an event type's schema, registered under `subjectOf(type)` on first use. */
  schemaIdOf(type: EventType): Promise<number>;
  /** The writer schema behind an id (cached: ids are immutable). */
  schemaById(id: number): Promise<AvroSchema>;
  /** Every version registered under a subject, oldest first; empty when the subject is unknown. */
  versions(subject: string): Promise<RegisteredVersion[]>;
  /** The subject's compatibility level, or the registry's default when the subject sets none. */
  compatibilityLevel(subject: string): Promise<CompatibilityLevel>;
  setCompatibilityLevel(subject: string, level: CompatibilityLevel): Promise<void>;
  close(): Promise<void>;
}
