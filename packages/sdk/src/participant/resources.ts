import { createSchemaRegistry, type EventCodec } from '@troupe/schema-registry';
import type { Logger } from 'pino';
import { KafkaTransport } from '../transport/kafka/kafka-transport.js';
import type { Transport } from '../transport/transport.js';
import type { ParticipantOptions } from './participant-options.js';

/** The transport and codec a participant uses, and how to close the ones it created itself. */
export interface ParticipantResources {
  readonly transport: Transport;
  readonly codec: EventCodec;
  /** Closes what the participant created (never what the caller passed in). */
  close(): Promise<void>;
}

/**
 * Uses the transport and codec given, or creates them from `brokers` and `registryUrl` (as
 * `SagaTracker.create` does), so a service needs one factory call; created ones are owned.
 */
export async function openResources(options: ParticipantOptions, logger: Logger): Promise<ParticipantResources> {
  const owned: { close(): Promise<void> }[] = [];
  const close = async (): Promise<void> => {
    for (const r of owned.reverse()) await r.close().catch((err: unknown) => logger.warn({ err }, 'closing a participant resource failed'));
  };
  try {
    let transport = options.transport;
    if (transport === undefined) {
      transport = await KafkaTransport.create({
        ...options.kafka,
        brokers: options.brokers ?? [],
        logger: options.kafka?.logger ?? logger,
      });
      owned.push(transport);
    }
    let codec = options.codec;
    if (codec === undefined) {
      const registry = await createSchemaRegistry(options.registryUrl !== undefined ? { url: options.registryUrl } : {});
      owned.push(registry);
      codec = registry;
    }
    return { transport, codec, close };
  } catch (err) {
    await close();
    throw err;
  }
}
