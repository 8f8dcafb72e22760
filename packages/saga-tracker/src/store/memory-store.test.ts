import { describe, expect, it } from 'vitest';
import { ORDER_CONTRACT, chain } from '../order-saga.fixture.js';
import { MemorySagaStore } from './memory-store.js';
import { describeSagaStoreContract } from './saga-store.case.js';

describeSagaStoreContract('memory', async () => {
  const store = await MemorySagaStore.create({ contracts: [ORDER_CONTRACT] });
  return { store, dispose: () => store.close() };
});

describe('MemorySagaStore', () => {
  it('keeps no offsets, so a restarted tracker replays every partition', async () => {
    const store = await MemorySagaStore.create();
    await store.apply({ events: chain('m-1', ['placed']), group: 'g', offsets: [{ topic: 'orders', partition: 0, next: '1' }] });
    expect(await store.offsets('g')).toEqual([]);
  });
});
