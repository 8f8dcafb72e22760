import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { trace } from '@opentelemetry/api';
import { afterEach, describe, expect, it } from 'vitest';
import { startTracing } from './tracing.js';

describe('startTracing (OTLP export of the example services)', () => {
  afterEach(() => trace.disable());

  it('is off without an OTLP endpoint', () => {
    expect(startTracing('payment-service', {})).toBeUndefined();
  });

  it('sends spans to the OTLP/HTTP endpoint, flushed on close', async () => {
    const received: { path: string; bytes: number }[] = [];
    const server = createServer((req, res) => {
      let bytes = 0;
      req.on('data', (d: Buffer) => (bytes += d.length));
      req.on('end', () => {
        received.push({ path: req.url ?? '', bytes });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const tracing = startTracing('payment-service', { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `http://127.0.0.1:${port}/v1/traces` });
      expect(tracing).toBeDefined();
      trace.getTracer('test').startSpan('send payments').end();
      await tracing?.close();
      expect(received).toHaveLength(1);
      expect(received[0]?.path).toBe('/v1/traces');
      expect(received[0]?.bytes).toBeGreaterThan(0);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
