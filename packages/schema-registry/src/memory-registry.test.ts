import { describe, expect, it } from 'vitest';
import type { AvroRecordSchema } from './avro-schema.js';
import { defineEventType, subjectOf } from './event-type.js';
import { SchemaRegistryError } from './errors.js';
import { MemorySchemaRegistry } from './memory-registry.js';

interface Charged {
  orderId: string;
  amountCents: number;
  method: 'CARD' | 'PAYPAL';
  items: { sku: string; quantity: number }[];
  note: string | null;
}

const schemaV1: AvroRecordSchema = {
  type: 'record',
  name: 'Charged',
  namespace: 'com.acme.test',
  fields: [
    { name: 'orderId', type: 'string' },
    { name: 'amountCents', type: 'long' },
    { name: 'method', type: { type: 'enum', name: 'Method', symbols: ['CARD', 'PAYPAL'] } },
    {
      name: 'items',
      type: {
        type: 'array',
        items: {
          type: 'record',
          name: 'Line',
          fields: [
            { name: 'sku', type: 'string' },
            { name: 'quantity', type: 'int' },
          ],
        },
      },
    },
    { name: 'note', type: ['null', 'string'], default: null },
  ],
};
const Charged = defineEventType<Charged>({ name: 'com.acme.test.Charged', topic: 'payments', schema: schemaV1 });
const valid: Charged = { orderId: 'o-1', amountCents: 1999, method: 'CARD', items: [{ sku: 'A-1', quantity: 2 }], note: null };

function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

async function rejection(p: Promise<unknown>): Promise<SchemaRegistryError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SchemaRegistryError);
  return err as SchemaRegistryError;
}

describe('MemorySchemaRegistry', () => {
  it('round-trips a payload in Confluent framing: magic byte 0, 4-byte id, Avro body', async () => {
    const reg = new MemorySchemaRegistry({ firstId: 41 });
    const bytes = await reg.encode(Charged, valid);
    expect(bytes[0]).toBe(0);
    expect(bytes.readInt32BE(1)).toBe(41);
    const decoded = await reg.decode(bytes, Charged);
    expect(decoded.schemaId).toBe(41);
    expect(decoded.type).toBe('com.acme.test.Charged');
    expect({ ...decoded.payload, items: decoded.payload.items.map((i) => ({ ...i })) }).toEqual(valid);
    const untyped = await reg.decode(bytes);
    expect(untyped.type).toBe('com.acme.test.Charged');
  });

  it('registers under the topic-record subject and returns the same id for the same schema', async () => {
    const reg = new MemorySchemaRegistry();
    const id = await reg.schemaIdOf(Charged);
    expect(await reg.register(subjectOf(Charged), schemaV1)).toBe(id);
    expect((await reg.versions('payments-com.acme.test.Charged')).map((v) => v.id)).toEqual([id]);
  });

  it('rejects an invalid payload with PAYLOAD_INVALID naming each offending field, registering nothing', async () => {
    const reg = new MemorySchemaRegistry();
    const bad = { ...valid, amountCents: '12', items: [{ sku: 'A-1', quantity: 1.5 }], method: 'CASH' } as unknown as Charged;
    const err = await rejection(reg.encode(Charged, bad));
    expect(err.code).toBe('PAYLOAD_INVALID');
    expect(err.retriable).toBe(false);
    expect(err.path).toBe('amountCents');
    expect(err.message).toContain(`'amountCents' must be a long, got string "12"`);
    expect(err.message).toContain(`'items[0].quantity' must be a int, got number 1.5`);
    expect(err.message).toContain(`'method' must be one of 'CARD', 'PAYPAL'`);
    expect(await reg.versions(subjectOf(Charged))).toEqual([]);
  });

  it('names missing and undeclared fields', async () => {
    const reg = new MemorySchemaRegistry();
    const { orderId: _dropped, ...rest } = valid;
    const err = await rejection(reg.encode(Charged, { ...rest, notes: 'typo' } as unknown as Charged));
    expect(err.message).toContain(`'orderId' is missing (expected a string)`);
    expect(err.message).toContain(`'notes' is not a field of com.acme.test.Charged`);
  });

  it('throws MALFORMED_FRAME for bytes that are not a Confluent frame, UNKNOWN_SCHEMA_ID for an unknown id', async () => {
    const reg = new MemorySchemaRegistry();
    expect((await rejection(reg.decode(Buffer.from('{"orderId":"o-1"}')))).code).toBe('MALFORMED_FRAME');
    expect((await rejection(reg.decode(Buffer.from([0, 0])))).code).toBe('MALFORMED_FRAME');
    expect((await rejection(reg.decode(Buffer.from([0, 0, 0, 0, 99, 2])))).code).toBe('UNKNOWN_SCHEMA_ID');
    const good = await reg.encode(Charged, valid);
    expect((await rejection(reg.decode(good.subarray(0, 8)))).code).toBe('MALFORMED_FRAME');
  });

  it('decodes old data into a newer reader type by Avro resolution (defaults fill new fields)', async () => {
    const reg = new MemorySchemaRegistry();
    const bytes = await reg.encode(Charged, valid);
    const v2 = defineEventType<Charged & { channel: string }>({
      name: Charged.name,
      topic: Charged.topic,
      schema: { ...schemaV1, fields: [...schemaV1.fields, { name: 'channel', type: 'string', default: 'web' }] },
    });
    const decoded = await reg.decode(bytes, v2);
    expect(decoded.payload.channel).toBe('web');
    expect(decoded.payload.amountCents).toBe(1999);
  });

  it('refuses to decode into a reader that cannot read the writer, naming the field', async () => {
    const reg = new MemorySchemaRegistry();
    const bytes = await reg.encode(Charged, valid);
    const strict = defineEventType<unknown>({
      name: Charged.name,
      topic: Charged.topic,
      schema: { ...schemaV1, fields: [...schemaV1.fields, { name: 'channel', type: 'string' }] },
    });
    const err = await rejection(reg.decode(bytes, strict));
    expect(err.code).toBe('INCOMPATIBLE_SCHEMA');
    expect(err.message).toContain(`field 'channel' is read without a default`);
  });

  it('enforces the subject compatibility level on register', async () => {
    const reg = new MemorySchemaRegistry();
    await reg.register('s', schemaV1);
    const v2 = { ...schemaV1, fields: [...schemaV1.fields, { name: 'channel', type: 'string' }] };
    const err = await rejection(reg.register('s', v2));
    expect(err.code).toBe('INCOMPATIBLE_SCHEMA');
    expect(err.message).toContain("field 'channel'");
    await reg.setCompatibilityLevel('s', 'NONE');
    expect(await reg.register('s', v2)).toBe(2);
    expect((await reg.versions('s')).map((v) => v.version)).toEqual([1, 2]);
  });

  it('validates its options at construction', () => {
    const err = caught(() => new MemorySchemaRegistry({ firstId: 0 }));
    expect(err).toBeInstanceOf(SchemaRegistryError);
    expect((err as Error).message).toContain('firstId 0');
  });
});
