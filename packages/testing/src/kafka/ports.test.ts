import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { TestingError } from './errors.js';
import { assertPortFree, freePorts } from './ports.js';

describe('ports', () => {
  it('hands out distinct free ports', async () => {
    const ports = await freePorts(4);
    expect(new Set(ports).size).toBe(4);
    for (const port of ports) await assertPortFree(port);
  });

  it('reports PORT_IN_USE for a taken port', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    try {
      const error = await assertPortFree(port).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TestingError);
      expect((error as TestingError).code).toBe('PORT_IN_USE');
      expect((error as TestingError).message).toContain(String(port));
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
