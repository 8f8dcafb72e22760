import { describe, expect, it } from 'vitest';
import { producerStateLost } from './producer-state.js';

describe('producerStateLost', () => {
  it('is true for a lost sequence, also wrapped in kafkajs retry errors, and false otherwise', () => {
    const lost = Object.assign(new Error('The broker received an out of order sequence number'), { type: 'OUT_OF_ORDER_SEQUENCE_NUMBER' });
    const wrapped = Object.assign(new Error('Number of retries exceeded'), { originalError: { errors: [lost] } });
    expect(producerStateLost(lost)).toBe(true);
    expect(producerStateLost(wrapped)).toBe(true);
    expect(producerStateLost(Object.assign(new Error('x'), { type: 'UNKNOWN_PRODUCER_ID' }))).toBe(true);
    expect(producerStateLost(Object.assign(new Error('x'), { type: 'NOT_LEADER_FOR_PARTITION' }))).toBe(false);
    expect(producerStateLost(new Error('plain'))).toBe(false);
  });
});
