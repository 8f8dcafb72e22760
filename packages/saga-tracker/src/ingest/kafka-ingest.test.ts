import { describe, expect, it } from 'vitest';
import { MemorySagaStore } from '../store/memory-store.js';
import { KafkaIngest } from './kafka-ingest.js';

describe('KafkaIngest options', () => {
  it.each([
    [{ brokers: [], topics: ['orders'] }, "brokers must be a non-empty list of 'host:port'"],
    [{ brokers: ['127.0.0.1:9'], topics: [] }, 'no topics to read'],
    [
      { brokers: ['127.0.0.1:9'], topics: ['orders'], partitionsConsumedConcurrently: 0 },
      'partitionsConsumedConcurrently must be an integer >= 1',
    ],
    [{ brokers: ['127.0.0.1:9'], topics: ['orders'], sessionTimeoutMs: 10 }, 'sessionTimeoutMs must be an integer >= 1000'],
  ])('rejects %j before connecting', async (opts, message) => {
    const store = await MemorySagaStore.create();
    await expect(KafkaIngest.create({ ...opts, store })).rejects.toMatchObject({
      code: 'INVALID_OPTIONS',
      message: expect.stringContaining(message) as unknown,
    });
  });
});
