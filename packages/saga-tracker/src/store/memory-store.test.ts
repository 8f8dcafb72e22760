import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { ORDER_CONTRACT, T_START, chain } from '../order-saga.fixture.js';
import { MemorySagaStore } from './memory-store.js';
import { describeSagaStoreContract } from './saga-store.case.js';

describeSagaStoreContract('memory', async (opts) => {
  const store = await MemorySagaStore.create({ contracts: [ORDER_CONTRACT], ...opts });
  return { store, dispose: () => store.close() };
});

describe('MemorySagaStore', () => {
  it('stays within its bounds, evicting the oldest finished sagas first, and says so in the log', async () => {
    const warnings: { obj: Record<string, unknown>; msg: string }[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(JSON.parse(line) as never) });
    const store = await MemorySagaStore.create({ contracts: [ORDER_CONTRACT], maxSagas: 3, logger });
    await store.apply({ events: chain('b-0', ['placed'], { startMs: T_START }) });
    await store.apply({ events: chain('b-1', ['placed', 'charged', 'reserved', 'scheduled', 'completed'], { startMs: T_START + 1000 }) });
    await store.apply({ events: chain('b-2', ['placed', 'declined'], { startMs: T_START + 2000 }) });
    await store.apply({ events: chain('b-3', ['placed'], { startMs: T_START + 3000 }) });
    // b-0 is older but still running: the oldest finished saga (b-1) goes first.
    expect(store.usage().sagas).toBe(3);
    expect(await store.get('b-1')).toBeUndefined();
    expect(await store.get('b-0')).toBeDefined();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ evicted: 1, running: 0, maxSagas: 3 });
    expect(String((warnings[0] as unknown as { msg: string }).msg)).toMatch(/^memory store full: evicted 1 sagas \(0 still running\)/);
    const [counts] = await store.counts({ now: T_START });
    expect(counts?.total).toBe(3);
    // An evicted saga seen again comes back once, not twice.
    await store.apply({ events: chain('b-1', ['placed'], { startMs: T_START + 1000 }) });
    expect((await store.list({ now: T_START, idPrefix: 'b-' })).items.map((s) => s.sagaId)).toEqual(['b-3', 'b-1', 'b-0']);
  });

  it('bounds bytes too: payloads count', async () => {
    const store = await MemorySagaStore.create({ maxBytes: 20_000 });
    const payload = 'x'.repeat(4000);
    for (let i = 0; i < 10; i++) {
      await store.apply({
        events: chain(`p-${i}`, ['placed', 'declined'], { startMs: T_START + i * 1000 }).map((e) => ({ ...e, payload })),
      });
    }
    expect(store.usage().bytes).toBeLessThanOrEqual(20_000);
    expect(store.usage().sagas).toBeLessThan(10);
    expect(await store.get('p-9')).toBeDefined();
  });

  it('keeps no offsets, so a restarted tracker replays every partition', async () => {
    const store = await MemorySagaStore.create();
    await store.apply({ events: chain('m-1', ['placed']), group: 'g', offsets: [{ topic: 'orders', partition: 0, next: '1' }] });
    expect(await store.offsets('g')).toEqual([]);
  });
});
