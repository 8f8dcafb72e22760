import { describe, expect, it } from 'vitest';
import { kafkaBrokers, parseBrokerList } from './brokers.js';
import { TestingError } from './errors.js';

describe('parseBrokerList', () => {
  it('accepts host:port lists with spaces around commas', () => {
    expect(parseBrokerList('127.0.0.1:9092, kafka-1.internal:19092,[::1]:9093')).toEqual([
      '127.0.0.1:9092',
      'kafka-1.internal:19092',
      '[::1]:9093',
    ]);
  });

  it.each(['localhost', 'PLAINTEXT://localhost:9092', 'host:99999', 'host:0', ':9092', ','])('rejects %j', (value) => {
    expect(() => parseBrokerList(value)).toThrow(TestingError);
  });
});

describe('kafkaBrokers', () => {
  it('reads KAFKA_BROKERS', () => {
    expect(kafkaBrokers({ KAFKA_BROKERS: '127.0.0.1:1234' })).toEqual(['127.0.0.1:1234']);
  });

  it('fails loudly, with what to do, when KAFKA_BROKERS is missing', () => {
    let error: unknown;
    try {
      kafkaBrokers({});
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TestingError);
    expect((error as TestingError).code).toBe('KAFKA_BROKERS_MISSING');
    expect((error as TestingError).message).toContain('npm run kafka:start');
  });
});
