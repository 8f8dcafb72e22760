import { createServer } from 'node:net';
import { TestingError } from './errors.js';

/** Binds `port` on `host` (0 = any free one) and releases it; resolves the bound port. */
function probe(host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host, port, exclusive: true }, () => {
      const address = server.address();
      const bound = typeof address === 'object' && address !== null ? address.port : port;
      server.close(() => resolve(bound));
    });
  });
}

/**
 * A port that was free a moment ago. Another process can still take it before the broker binds,
 * which is why the launcher retries with fresh ports when a broker reports the address in use.
 */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return probe(host, 0);
}

/** `count` distinct free ports. */
export async function freePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort(host));
  return [...ports];
}

/** Fails with PORT_IN_USE when a port the user asked for explicitly is taken. */
export async function assertPortFree(port: number, host = '127.0.0.1'): Promise<void> {
  try {
    await probe(host, port);
  } catch (cause) {
    throw new TestingError(
      'PORT_IN_USE',
      `Port ${host}:${port} is already in use. Stop whatever listens there (\`ss -ltnp 'sport = :${port}'\` shows it), ` +
        'pick another port, or leave the port unset so a free one is chosen.',
      { cause },
    );
  }
}
