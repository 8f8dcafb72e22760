import type avro from 'avsc';
import type { AvroRecordSchema, AvroSchema } from './avro-schema.js';
import { avroTypeOf } from './avro-types.js';
import { AvroEventCodec } from './avro-codec.js';
import { canonicalJson } from './canonical-json.js';
import { checkCompatibility, formatCompatibility, isCompatibilityLevel, type CompatibilityLevel } from './compatibility.js';
import { subjectOf, type EventType } from './event-type.js';
import { SchemaRegistryError } from './errors.js';
import type { RegisteredVersion, SchemaRegistryClient } from './registry-client.js';

export interface MemorySchemaRegistryOptions {
  /**
   * Level for subjects that set none, as in a Confluent registry's global `/config`.
   * @default 'BACKWARD'
   */
  readonly defaultCompatibility?: CompatibilityLevel;
  /**
   * First id handed out. Distinct registries in one process can be given distinct ranges so a test
   * notices when bytes written through one are decoded through the other.
   * @default 1
   */
  readonly firstId?: number;
}

/**
 * A schema registry inside the process: ids, subjects, versions and compatibility checks like a
 * Confluent registry, without a server. The embedded default for the demo and for unit tests.
 * Nothing survives the process: bytes it encoded can only be decoded by the same instance.
 */
export class MemorySchemaRegistry extends AvroEventCodec implements SchemaRegistryClient {
  private readonly defaultLevel: CompatibilityLevel;
  private nextId: number;
  private readonly byId = new Map<number, AvroSchema>();
  private readonly idByCanonical = new Map<string, number>();
  private readonly subjects = new Map<string, { versions: RegisteredVersion[]; level?: CompatibilityLevel }>();

  constructor(options: MemorySchemaRegistryOptions = {}) {
    super();
    const level = options.defaultCompatibility ?? 'BACKWARD';
    if (!isCompatibilityLevel(level)) {
      throw new SchemaRegistryError(
        'REGISTRY_ERROR',
        `defaultCompatibility '${String(level)}' is not a compatibility level; use one of BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE, NONE.`,
      );
    }
    const firstId = options.firstId ?? 1;
    if (!Number.isInteger(firstId) || firstId < 1 || firstId > 0x7fffffff) {
      throw new SchemaRegistryError(
        'REGISTRY_ERROR',
        `firstId ${firstId} must be an integer between 1 and 2^31-1 (it is written as a 4-byte signed int).`,
      );
    }
    this.defaultLevel = level;
    this.nextId = firstId;
  }

  /** For symmetry with clients that connect; nothing to wait for. */
  static create(options: MemorySchemaRegistryOptions = {}): Promise<MemorySchemaRegistry> {
    return Promise.resolve(new MemorySchemaRegistry(options));
  }

  register(subject: string, schema: AvroRecordSchema): Promise<number> {
    // An executor's throw becomes a rejection: callers get one failure channel.
    return new Promise((resolve) => resolve(this.registerSync(subject, schema)));
  }

  private registerSync(subject: string, schema: AvroRecordSchema): number {
    avroTypeOf(schema, `schema for subject ${subject}`);
    const canonical = canonicalJson(schema);
    const entry = this.subjects.get(subject) ?? { versions: [] };
    const known = this.idByCanonical.get(canonical);
    const existing = known === undefined ? undefined : entry.versions.find((v) => v.id === known);
    if (existing) return existing.id;
    const level = entry.level ?? this.defaultLevel;
    const verdict = checkCompatibility(
      level,
      entry.versions.map((v) => v.schema),
      schema,
    );
    if (!verdict.compatible) {
      throw new SchemaRegistryError(
        'INCOMPATIBLE_SCHEMA',
        `schema for subject ${subject} is not compatible with what is registered: ${formatCompatibility(verdict)}\nChange the schema compatibly, or change the subject's level deliberately.`,
        { path: subject },
      );
    }
    let id = known;
    if (id === undefined) {
      id = this.nextId++;
      this.byId.set(id, schema);
      this.idByCanonical.set(canonical, id);
    }
    entry.versions.push({ subject, version: entry.versions.length + 1, id, schema });
    this.subjects.set(subject, entry);
    return id;
  }

  protected lookupId(type: EventType): Promise<number> {
    return this.register(subjectOf(type), type.schema);
  }

  protected async fetchWriterType(id: number): Promise<avro.Type> {
    return avroTypeOf(await this.schemaById(id), `schema id ${id}`);
  }

  schemaById(id: number): Promise<AvroSchema> {
    const schema = this.byId.get(id);
    if (schema === undefined) {
      return Promise.reject(
        new SchemaRegistryError(
          'UNKNOWN_SCHEMA_ID',
          `schema id ${id} is not registered in this in-memory registry. Bytes framed by another registry (or another process) cannot be decoded here; point both sides at the same registry.`,
        ),
      );
    }
    return Promise.resolve(schema);
  }

  versions(subject: string): Promise<RegisteredVersion[]> {
    return Promise.resolve([...(this.subjects.get(subject)?.versions ?? [])]);
  }

  subjectNames(): string[] {
    return [...this.subjects.keys()].sort();
  }

  compatibilityLevel(subject: string): Promise<CompatibilityLevel> {
    return Promise.resolve(this.subjects.get(subject)?.level ?? this.defaultLevel);
  }

  setCompatibilityLevel(subject: string, level: CompatibilityLevel): Promise<void> {
    const entry = this.subjects.get(subject) ?? { versions: [] };
    entry.level = level;
    this.subjects.set(subject, entry);
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
