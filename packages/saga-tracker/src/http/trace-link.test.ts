import { describe, expect, it } from 'vitest';
import { ORDER_CONTRACT, T_START, chain } from '../order-saga.fixture.js';
import { MemorySagaStore } from '../store/memory-store.js';
import { buildTrackerApp } from './app.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';

describe('saga → trace link', () => {
  it('returns the saga trace id and its link in the configured viewer', async () => {
    const store = await MemorySagaStore.create({ contracts: [ORDER_CONTRACT] });
    const events = chain('o-1', ['placed', 'charged']).map((e, i) => ({
      ...e,
      traceparent: `00-${TRACE}-${i === 0 ? '00f067aa0ba902b7' : 'b7ad6b7169203331'}-01`,
    }));
    await store.apply({ events: [...events, ...chain('o-2', ['placed'])] });
    const app = buildTrackerApp({ store, now: () => T_START, traceUrl: 'http://localhost:16686/trace/{traceId}' });
    try {
      const linked = (await app.inject({ method: 'GET', url: '/api/sagas/o-1' })).json<{ traceId?: string; traceUrl?: string }>();
      expect(linked).toMatchObject({ traceId: TRACE, traceUrl: `http://localhost:16686/trace/${TRACE}` });
      const untraced = (await app.inject({ method: 'GET', url: '/api/sagas/o-2' })).json<Record<string, unknown>>();
      expect(untraced['traceId']).toBeUndefined();
      expect(untraced['traceUrl']).toBeUndefined();
    } finally {
      await app.close();
      await store.close();
    }
  });
});
