import { describe, expect, it } from 'vitest';
import {
  compensationTriggersOf,
  contractFor,
  contractStages,
  contractVersion,
  latestContract,
  stageIndexOf,
  stepAwaits,
  type SagaContract,
  type SagaStepContract,
} from './saga-contract.js';

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

describe('parallel groups and optional steps', () => {
  const step = (name: string, extra: { parallel?: string; optional?: boolean } = {}): SagaStepContract => ({
    name,
    participant: `${name}-service`,
    completed: `com.acme.${name}.Done`,
    failed: `com.acme.${name}.Failed`,
    ...extra,
  });
  // fraud (optional) → payment ∥ inventory (group reserve) → shipping ∥ loyalty (optional branch)
  const c: SagaContract = {
    ...base,
    steps: [
      step('fraud', { optional: true }),
      step('payment', { parallel: 'reserve' }),
      step('inventory', { parallel: 'reserve' }),
      step('shipping', { parallel: 'deliver' }),
      step('loyalty', { parallel: 'deliver', optional: true }),
    ],
  };

  it('groups consecutive branches of one group into a stage', () => {
    expect(contractStages(c).map((st) => [st.parallel, st.steps.map((s) => s.name)])).toEqual([
      [undefined, ['fraud']],
      ['reserve', ['payment', 'inventory']],
      ['deliver', ['shipping', 'loyalty']],
    ]);
    expect(stageIndexOf(c, 'inventory')).toBe(1);
    expect(stageIndexOf(c, 'nope')).toBe(-1);
  });

  it('starts a stage on the start event, after either outcome of an optional step, and joins after a group', () => {
    expect(stepAwaits(c, 'fraud')).toEqual([['com.acme.orders.OrderPlaced']]);
    expect(stepAwaits(c, 'payment')).toEqual([['com.acme.fraud.Done', 'com.acme.fraud.Failed']]);
    expect(stepAwaits(c, 'inventory')).toEqual(stepAwaits(c, 'payment'));
    expect(stepAwaits(c, 'shipping')).toEqual([['com.acme.payment.Done'], ['com.acme.inventory.Done']]);
    expect(stepAwaits(c, 'nope')).toEqual([]);
  });

  it('compensates a branch on its siblings’ and later failures, never on an optional step’s', () => {
    expect(compensationTriggersOf(c, 'fraud')).toEqual([
      'com.acme.payment.Failed',
      'com.acme.inventory.Failed',
      'com.acme.shipping.Failed',
    ]);
    expect(compensationTriggersOf(c, 'payment')).toEqual(['com.acme.inventory.Failed', 'com.acme.shipping.Failed']);
    expect(compensationTriggersOf(c, 'inventory')).toEqual(['com.acme.payment.Failed', 'com.acme.shipping.Failed']);
    expect(compensationTriggersOf(c, 'loyalty')).toEqual(['com.acme.shipping.Failed']);
    expect(compensationTriggersOf(c, 'nope')).toEqual([]);
  });

  it('keeps a linear contract linear: one step per stage, each after the previous completion', () => {
    const linear: SagaContract = { ...base, steps: [step('a'), step('b')] };
    expect(contractStages(linear).map((st) => st.steps.length)).toEqual([1, 1]);
    expect(stepAwaits(linear, 'b')).toEqual([['com.acme.a.Done']]);
    expect(compensationTriggersOf(linear, 'a')).toEqual(['com.acme.b.Failed']);
  });
});
