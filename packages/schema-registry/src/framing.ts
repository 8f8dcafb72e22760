import { SchemaRegistryError } from './errors.js';

/** Confluent wire format: magic byte 0, schema id as 4-byte big-endian, then the Avro body. */
export const MAGIC_BYTE = 0;
const HEADER_LENGTH = 5;

export function frame(schemaId: number, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(HEADER_LENGTH + body.length);
  out.writeUInt8(MAGIC_BYTE, 0);
  out.writeInt32BE(schemaId, 1);
  body.copy(out, HEADER_LENGTH);
  return out;
}

export interface Unframed {
  readonly schemaId: number;
  readonly body: Buffer;
}

/** Splits a Confluent frame; `MALFORMED_FRAME` when the bytes cannot be one. */
export function unframe(data: Buffer): Unframed {
  if (!Buffer.isBuffer(data) || data.length < HEADER_LENGTH) {
    throw new SchemaRegistryError(
      'MALFORMED_FRAME',
      `message of ${Buffer.isBuffer(data) ? data.length : 0} bytes is too short for a Confluent frame (5-byte header). Was it produced by a Confluent-framing serializer?`,
    );
  }
  const magic = data.readUInt8(0);
  if (magic !== MAGIC_BYTE) {
    throw new SchemaRegistryError(
      'MALFORMED_FRAME',
      `message starts with byte ${magic}, not the Confluent magic byte 0: it was not written by a schema-registry serializer (plain JSON or Avro without framing?).`,
    );
  }
  return { schemaId: data.readInt32BE(1), body: data.subarray(HEADER_LENGTH) };
}
