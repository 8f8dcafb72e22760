import { describe, expect, it } from 'vitest';
import type { InboundMessage } from '../transport/transport.js';
import { runBySaga } from './saga-chains.js';

const msg = (saga: string, offset: number): InboundMessage => ({
  topic: 't',
  partition: 0,
  offset: String(offset),
  key: Buffer.from(saga),
  value: null,
  headers: { ce_sagaid: Buffer.from(saga) },
  timestamp: '0',
});

describe('runBySaga', () => {
  it('handles a saga one message after the other, different sagas side by side, at most `concurrency` at once', async () => {
    const messages = ['a', 'b', 'a', 'c', 'b', 'a', 'd'].map(msg);
    const running = new Map<string, number>();
    let inFlight = 0;
    let maxInFlight = 0;
    const order: string[] = [];
    await runBySaga(messages, 2, async (m, i) => {
      const saga = m.key?.toString() ?? '';
      expect(running.get(saga) ?? 0).toBe(0);
      running.set(saga, 1);
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((r) => setTimeout(r, 5));
      order.push(`${saga}${i}`);
      running.set(saga, 0);
      inFlight -= 1;
      return true;
    });
    expect(maxInFlight).toBe(2);
    for (const saga of ['a', 'b', 'c', 'd']) {
      const mine = order.filter((o) => o.startsWith(saga)).map((o) => Number(o.slice(1)));
      expect(mine).toEqual([...mine].sort((x, y) => x - y));
    }
    expect(order).toHaveLength(7);
  });

  it("stops a saga's chain when a message cannot be finished; other sagas go on", async () => {
    const messages = ['a', 'b', 'a', 'b'].map(msg);
    const seen: number[] = [];
    await runBySaga(messages, 4, (_m, i) => {
      seen.push(i);
      return Promise.resolve(i !== 0);
    });
    expect(seen.sort()).toEqual([0, 1, 3]);
  });
});
