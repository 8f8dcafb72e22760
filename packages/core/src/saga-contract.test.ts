import { describe, expect, it } from 'vitest';
import { contractFor, contractVersion, latestContract, type SagaContract } from './saga-contract.js';

const base: SagaContract = {
  saga: 'order-fulfillment',
  start: 'com.acme.orders.OrderPlaced',
  steps: [],
  end: { completed: 'com.acme.orders.OrderCompleted', aborted: 'com.acme.orders.OrderCancelled' },
};

describe('contract versions', () => {
  const v1 = base;
  const v2: SagaContract = { ...base, version: 2 };
  const other: SagaContract = { ...base, saga: 'returns', version: 3 };

  it('treats a contract without a version as version 1', () => {
    expect(contractVersion(v1)).toBe(1);
    expect(contractVersion(v2)).toBe(2);
  });

  it('finds the contract a saga started with, and none for a version nobody declared', () => {
    const all = [v2, other, v1];
    expect(contractFor(all, 'order-fulfillment', undefined)).toBe(v1);
    expect(contractFor(all, 'order-fulfillment', 2)).toBe(v2);
    expect(contractFor(all, 'order-fulfillment', 3)).toBeUndefined();
    expect(latestContract(all, 'order-fulfillment')).toBe(v2);
    expect(latestContract(all, 'nope')).toBeUndefined();
  });
});
