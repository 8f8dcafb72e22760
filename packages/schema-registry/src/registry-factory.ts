import { ConfluentSchemaRegistry, type ConfluentSchemaRegistryOptions } from './confluent-registry.js';
import { MemorySchemaRegistry, type MemorySchemaRegistryOptions } from './memory-registry.js';
import type { SchemaRegistryClient } from './registry-client.js';

export interface CreateSchemaRegistryOptions {
  /**
   * URL of a Confluent-compatible registry. Without one, the in-process {@link MemorySchemaRegistry}.
   * @default process.env.SCHEMA_REGISTRY_URL
   */
  readonly url?: string;
  readonly confluent?: Omit<ConfluentSchemaRegistryOptions, 'url'>;
  readonly memory?: MemorySchemaRegistryOptions;
}

/** The registry the environment asks for: `SCHEMA_REGISTRY_URL` set means that registry, else in-memory. */
export async function createSchemaRegistry(options: CreateSchemaRegistryOptions = {}): Promise<SchemaRegistryClient> {
  const url = options.url ?? process.env['SCHEMA_REGISTRY_URL'];
  if (url !== undefined && url !== '') return ConfluentSchemaRegistry.create({ ...options.confluent, url });
  return MemorySchemaRegistry.create(options.memory);
}
