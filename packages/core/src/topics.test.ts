import { describe, expect, it } from 'vitest';
import { deadLetterTopicOf, isDeadLetterTopic, retryTopicOf, sourceTopicOf } from './topics.js';

describe('topic naming', () => {
  it('derives and recognises dead-letter topics, with the default and a custom suffix', () => {
    expect(deadLetterTopicOf('orders')).toBe('orders.dlq');
    expect(isDeadLetterTopic('orders.dlq')).toBe(true);
    expect(isDeadLetterTopic('orders')).toBe(false);
    expect(sourceTopicOf('orders.dlq')).toBe('orders');
    expect(sourceTopicOf('orders')).toBeUndefined();
    expect(deadLetterTopicOf('orders', '-dead')).toBe('orders-dead');
    expect(sourceTopicOf('orders-dead', '-dead')).toBe('orders');
  });

  it('names a group retry topic', () => {
    expect(retryTopicOf('payment-service')).toBe('payment-service.retry');
  });
});
