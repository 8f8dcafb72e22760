import { ConfluentSchemaRegistry, type ConfluentSchemaRegistryOptions } from './confluent-registry.js';
import { SchemaRegistryError } from './errors.js';
import { MemorySchemaRegistry, type MemorySchemaRegistryOptions } from './memory-registry.js';
import type { SchemaRegistryClient } from './registry-client.js';

/** The `url` that asks for the in-process registry, e.g. `SCHEMA_REGISTRY_URL=memory:` in a demo. */
export const MEMORY_REGISTRY_URL = 'memory:';

export interface CreateSchemaRegistryOptions {
  /**
   * URL of a Confluent-compatible registry, or `'memory:'` for the in-process
   * {@link MemorySchemaRegistry}.
   * @default process.env.SCHEMA_REGISTRY_URL
   */
  readonly url?: string;
  readonly confluent?: Omit<ConfluentSchemaRegistryOptions, 'url'>;
  /**
   * Use the in-process {@link MemorySchemaRegistry} (`true`, or its options). Only for tests and
   * demos: its schema ids mean nothing to any other process. Wins over `SCHEMA_REGISTRY_URL`;
   * together with an explicit `url` it is an error.
   * @default false
   */
  readonly memory?: boolean | MemorySchemaRegistryOptions;
}

/**
 * The registry the options or the environment name: a URL means that Confluent-compatible
 * registry, `memory: true` (or the URL `memory:`) the in-process one. Nothing named is an error
 * (`REGISTRY_NOT_CONFIGURED`), never a silent in-memory registry: in production that would write
 * schema ids no other service can resolve.
 */
export async function createSchemaRegistry(options: CreateSchemaRegistryOptions = {}): Promise<SchemaRegistryClient> {
  const memoryAsked = options.memory !== undefined && options.memory !== false;
  if (memoryAsked && options.url !== undefined && options.url !== MEMORY_REGISTRY_URL) {
    throw new SchemaRegistryError(
      'REGISTRY_NOT_CONFIGURED',
      `createSchemaRegistry got both url '${options.url}' and memory: pass one of them (memory only for tests and demos).`,
    );
  }
  const url = memoryAsked ? MEMORY_REGISTRY_URL : (options.url ?? process.env['SCHEMA_REGISTRY_URL'] ?? '');
  if (url === MEMORY_REGISTRY_URL) return MemorySchemaRegistry.create(typeof options.memory === 'object' ? options.memory : {});
  if (url !== '') return ConfluentSchemaRegistry.create({ ...options.confluent, url });
  throw new SchemaRegistryError(
    'REGISTRY_NOT_CONFIGURED',
    'no schema registry configured: set SCHEMA_REGISTRY_URL (or pass { url }) to a Confluent-compatible registry, ' +
      'e.g. http://localhost:8081 (`npm run registry:start` prints one). For an in-process registry whose schema ids ' +
      'no other service can read (tests, demos), pass { memory: true } or set SCHEMA_REGISTRY_URL=memory:.',
  );
}
