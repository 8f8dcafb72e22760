import { afterAll, describe, expect, it } from 'vitest';
import { MemorySchemaRegistry } from '@troupe/schema-registry';
import { KafkaTransport, readTopicToEnd } from '@troupe/sdk';
import { kafkaBrokers, uniqueName } from '@troupe/testing';
import { runRetryRestartScenario, runRetryScenario } from '../packages/sdk/src/retry/retry-order.fixture.js';
import { silentLogger } from './fixtures/sdk-kafka.js';

describe('retry topic on a real broker', () => {
  let transport: KafkaTransport | undefined;
  afterAll(() => transport?.close());

  it('retries later without blocking other sagas, keeps per-saga order, dead-letters after the passes', async () => {
    transport = await KafkaTransport.create({ brokers: kafkaBrokers(), logger: silentLogger, redeliveryDelayMs: 50 });
    const t = transport;
    const result = await runRetryScenario({
      transport: t,
      codec: new MemorySchemaRegistry(),
      suffix: uniqueName('sdk-retry'),
      logger: silentLogger,
      read: (topic) => readTopicToEnd(t.kafka, topic),
    });
    expect(result.handled).toEqual(['T:A', 'S:A', 'S:B']);
    expect(result.deadLetters).toEqual([
      ['U', 'HANDLER_FAILED', '8'],
      ['U', 'SAGA_DEAD_LETTERED', '0'],
    ]);
    expect(result.retryRecords).toBe(4);
  });

  it('keeps the order of a waiting saga across a restart (rebuilt from the retry topic)', async () => {
    transport ??= await KafkaTransport.create({ brokers: kafkaBrokers(), logger: silentLogger, redeliveryDelayMs: 50 });
    const t = transport;
    const handled = await runRetryRestartScenario({
      transport: t,
      codec: new MemorySchemaRegistry(),
      suffix: uniqueName('sdk-retry-restart'),
      logger: silentLogger,
      read: (topic) => readTopicToEnd(t.kafka, topic),
    });
    expect(handled).toEqual(['A', 'B', 'C']);
  });
});
