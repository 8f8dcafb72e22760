import { MemorySchemaRegistry } from '@troupe/schema-registry';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { MemoryTransport } from '../transport/memory/memory-transport.js';
import { runRetryRestartScenario, runRetryScenario } from './retry-order.fixture.js';

describe('retry topic on the memory transport', () => {
  it('retries later without blocking other sagas, keeps per-saga order, dead-letters after the passes', async () => {
    const transport = await MemoryTransport.create({ redeliveryDelayMs: 5 });
    try {
      const result = await runRetryScenario({
        transport,
        codec: new MemorySchemaRegistry(),
        suffix: 'mem',
        logger: pino({ level: 'silent' }),
        read: (topic) => Promise.resolve(transport.records(topic)),
      });
      // T was not held up by S; S's B came after S's A.
      expect(result.handled).toEqual(['T:A', 'S:A', 'S:B']);
      expect(result.deadLetters).toEqual([
        ['U', 'HANDLER_FAILED', '8'],
        ['U', 'SAGA_DEAD_LETTERED', '0'],
      ]);
      // A of S and of U moved to the retry topic, B of S and of U queued behind them.
      expect(result.retryRecords).toBe(4);
    } finally {
      await transport.close();
    }
  });

  it('keeps the order of a waiting saga across a restart (rebuilt from the retry topic)', async () => {
    const transport = await MemoryTransport.create({ redeliveryDelayMs: 5 });
    try {
      const handled = await runRetryRestartScenario({
        transport,
        codec: new MemorySchemaRegistry(),
        suffix: 'mem',
        logger: pino({ level: 'silent' }),
        read: (topic) => Promise.resolve(transport.records(topic)),
      });
      expect(handled).toEqual(['A', 'B', 'C']);
    } finally {
      await transport.close();
    }
  });
});
