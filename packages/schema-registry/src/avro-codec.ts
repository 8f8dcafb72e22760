import type avro from 'avsc';
import { assertPayloadValid, avroTypeOf } from './avro-types.js';
import { canRead } from './compatibility.js';
import type { DecodedEvent, EventCodec } from './event-codec.js';
import type { EventType } from './event-type.js';
import { SchemaRegistryError } from './errors.js';
import { frame, unframe } from './framing.js';

type Resolver = ReturnType<avro.Type['createResolver']>;

interface Writer {
  readonly type: avro.Type;
  readonly name: string;
  /** Resolvers from this writer to each reader event type decoded with, built once. */
  readonly resolvers: WeakMap<EventType, Resolver>;
}

/**
 * The Avro + Confluent-framing half shared by every registry client: validation before encode,
 * avsc types built once per event type, writer schemas and resolvers cached by id so a decode
 * costs no registry round trip after the first message of a schema.
 */
export abstract class AvroEventCodec implements EventCodec {
  private readonly readerTypes = new WeakMap<EventType, avro.Type>();
  private readonly ids = new WeakMap<EventType, Promise<number>>();
  private readonly writers = new Map<number, Promise<Writer>>();

  /** Registers (or looks up) the schema of `type` and returns its id; called once per event type. */
  protected abstract lookupId(type: EventType): Promise<number>;
  /** The avsc type of the writer schema behind an id; called once per id. */
  protected abstract fetchWriterType(id: number): Promise<avro.Type>;

  async encode<T>(type: EventType<T>, payload: T): Promise<Buffer> {
    const avroType = this.typeOf(type);
    // Validate before touching the registry: an invalid event must not even register a schema.
    assertPayloadValid(avroType, type.name, payload);
    const id = await this.schemaIdOf(type);
    return this.encodeValid(id, avroType, payload);
  }

  /** Frames an already validated payload; a client may hand this to its own serializer. */
  protected encodeValid(id: number, avroType: avro.Type, payload: unknown): Promise<Buffer> {
    return Promise.resolve(frame(id, avroType.toBuffer(payload)));
  }

  async decode<T = unknown>(data: Buffer, reader?: EventType<T>): Promise<DecodedEvent<T>> {
    const { schemaId, body } = unframe(data);
    const writer = await this.writer(schemaId);
    let resolver: Resolver | undefined;
    let readerType = writer.type;
    if (reader !== undefined) {
      readerType = this.typeOf(reader);
      resolver = writer.resolvers.get(reader);
      if (resolver === undefined) {
        const verdict = canRead(readerType, writer.type);
        if (!verdict.ok) {
          throw new SchemaRegistryError(
            'INCOMPATIBLE_SCHEMA',
            `cannot read schema id ${schemaId} (${writer.name}) as ${reader.name}: ${verdict.reason}. Regenerate the reader's types or fix the schema evolution.`,
            { path: reader.name },
          );
        }
        resolver = readerType.createResolver(writer.type);
        writer.resolvers.set(reader, resolver);
      }
    }
    let payload: unknown;
    try {
      payload = readerType.fromBuffer(body, resolver);
    } catch (err) {
      throw new SchemaRegistryError(
        'MALFORMED_FRAME',
        `message body is not valid Avro for schema id ${schemaId} (${writer.name}): ${(err as Error).message}. The producer's serializer and the registry disagree, or the bytes were corrupted.`,
        { cause: err },
      );
    }
    return { schemaId, type: writer.name, payload: payload as T };
  }

  /** The registry id of an event type's schema, registering it on first use. */
  schemaIdOf(type: EventType): Promise<number> {
    let id = this.ids.get(type);
    if (id === undefined) {
      id = this.lookupId(type);
      this.ids.set(type, id);
      // A failed lookup (registry down) must be retried next time, not cached forever.
      id.catch(() => this.ids.delete(type));
    }
    return id;
  }

  private typeOf(type: EventType): avro.Type {
    let t = this.readerTypes.get(type);
    if (t === undefined) {
      t = avroTypeOf(type.schema, `schema of ${type.name}`);
      this.readerTypes.set(type, t);
    }
    return t;
  }

  private writer(id: number): Promise<Writer> {
    let w = this.writers.get(id);
    if (w === undefined) {
      w = this.fetchWriterType(id).then((type) => ({ type, name: type.name ?? type.typeName, resolvers: new WeakMap() }));
      this.writers.set(id, w);
      w.catch(() => this.writers.delete(id));
    }
    return w;
  }
}
