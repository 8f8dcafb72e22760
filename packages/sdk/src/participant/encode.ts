import { SchemaRegistryError, type EventCodec, type EventType } from '@troupe/schema-registry';
import { SdkError } from '../errors.js';

/** Encodes through the codec; an invalid payload becomes a non-retriable PAYLOAD_INVALID naming the field. */
export async function encodeOrThrow(codec: EventCodec, type: EventType, payload: unknown): Promise<Buffer> {
  try {
    return await codec.encode(type, payload);
  } catch (err) {
    if (err instanceof SchemaRegistryError && err.code === 'PAYLOAD_INVALID') {
      throw new SdkError('PAYLOAD_INVALID', `${type.name}: ${err.message}; nothing was sent`, { cause: err });
    }
    throw err;
  }
}
