import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ConfluentSchemaRegistry } from './confluent-registry.js';

/** A loopback port with nothing listening: bind, note the port, close. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

describe('ConfluentSchemaRegistry.create', () => {
  it('rejects a URL that is not http(s) before any network call', async () => {
    await expect(ConfluentSchemaRegistry.create({ url: 'localhost:8081' })).rejects.toMatchObject({ code: 'REGISTRY_ERROR' });
    await expect(ConfluentSchemaRegistry.create({ url: 'ftp://127.0.0.1/' })).rejects.toThrow(/must be http or https/);
    await expect(ConfluentSchemaRegistry.create({ url: 'http://127.0.0.1:1', retries: -1 })).rejects.toThrow(/retries -1/);
  });

  it('fails at start-up with a retriable REGISTRY_UNAVAILABLE when nothing answers', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const err = await ConfluentSchemaRegistry.create({ url }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'REGISTRY_UNAVAILABLE', retriable: true });
    expect((err as Error).message).toContain(`cannot reach the schema registry at ${url}`);
  });

  it('with waitMs, keeps asking a registry that is down until it answers, reporting each wait', async () => {
    const port = await closedPort();
    const waits: string[] = [];
    const server = createHttpServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('[]');
    });
    // The registry comes up while create() waits for it.
    const later = setTimeout(() => server.listen(port, '127.0.0.1'), 700);
    try {
      const reg = await ConfluentSchemaRegistry.create({
        url: `http://127.0.0.1:${port}`,
        waitMs: 30_000,
        onWait: (err, attempt) => waits.push(`${attempt}:${err.code}`),
      });
      expect(reg).toBeInstanceOf(ConfluentSchemaRegistry);
      expect(waits.length).toBeGreaterThan(0);
      expect(waits.every((w) => w.endsWith(':REGISTRY_UNAVAILABLE'))).toBe(true);
    } finally {
      clearTimeout(later);
      server.close();
    }
  });

  it('with waitMs, still fails with REGISTRY_UNAVAILABLE once the wait is over', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    let waited = 0;
    const err = await ConfluentSchemaRegistry.create({ url, waitMs: 600, onWait: () => void waited++ }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'REGISTRY_UNAVAILABLE' });
    expect(waited).toBeGreaterThan(0);
  });

  it('decoding while the registry is unreachable fails with a retriable REGISTRY_UNAVAILABLE, never a permanent error', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const reg = await ConfluentSchemaRegistry.create({ url, verify: false, retries: 0 });
    // Confluent framing: magic byte 0, schema id 7, then (no) Avro bytes.
    const framed = Buffer.from([0, 0, 0, 0, 7, 2]);
    const err = await reg.decode(framed).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'REGISTRY_UNAVAILABLE', retriable: true });
  });
});
