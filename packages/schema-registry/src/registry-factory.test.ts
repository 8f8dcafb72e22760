import { afterEach, describe, expect, it, vi } from 'vitest';
import { SchemaRegistryError } from './errors.js';
import { MemorySchemaRegistry } from './memory-registry.js';
import { createSchemaRegistry } from './registry-factory.js';

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('createSchemaRegistry', () => {
  it('fails with REGISTRY_NOT_CONFIGURED and advice when no registry is named (no silent in-memory fallback)', async () => {
    vi.stubEnv('SCHEMA_REGISTRY_URL', '');
    const err = await createSchemaRegistry().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SchemaRegistryError);
    expect(err).toMatchObject({ code: 'REGISTRY_NOT_CONFIGURED', retriable: false });
    const message = (err as Error).message;
    expect(message).toContain('set SCHEMA_REGISTRY_URL (or pass { url })');
    expect(message).toContain('pass { memory: true } or set SCHEMA_REGISTRY_URL=memory:');
    // An empty url option is no registry either.
    await expect(createSchemaRegistry({ url: '' })).rejects.toMatchObject({ code: 'REGISTRY_NOT_CONFIGURED' });
  });

  it('is the in-process registry when memory is asked for: { memory: true }, its options, or the URL memory:', async () => {
    vi.stubEnv('SCHEMA_REGISTRY_URL', '');
    expect(await createSchemaRegistry({ memory: true })).toBeInstanceOf(MemorySchemaRegistry);
    expect(await createSchemaRegistry({ url: 'memory:' })).toBeInstanceOf(MemorySchemaRegistry);
    const withOptions = await createSchemaRegistry({ memory: { defaultCompatibility: 'FULL' } });
    expect(await withOptions.compatibilityLevel('any-subject')).toBe('FULL');
    vi.stubEnv('SCHEMA_REGISTRY_URL', 'memory:');
    expect(await createSchemaRegistry()).toBeInstanceOf(MemorySchemaRegistry);
  });

  it('prefers an explicit memory: true over SCHEMA_REGISTRY_URL, and refuses memory together with an explicit url', async () => {
    vi.stubEnv('SCHEMA_REGISTRY_URL', 'http://127.0.0.1:1');
    expect(await createSchemaRegistry({ memory: true })).toBeInstanceOf(MemorySchemaRegistry);
    await expect(createSchemaRegistry({ url: 'http://127.0.0.1:1', memory: true })).rejects.toMatchObject({
      code: 'REGISTRY_NOT_CONFIGURED',
    });
  });

  it('uses the URL from SCHEMA_REGISTRY_URL: an unreachable one fails as REGISTRY_UNAVAILABLE instead of falling back', async () => {
    vi.stubEnv('SCHEMA_REGISTRY_URL', 'http://127.0.0.1:1');
    await expect(createSchemaRegistry({ confluent: { retries: 0 } })).rejects.toMatchObject({
      code: 'REGISTRY_UNAVAILABLE',
      retriable: true,
    });
  });
});
