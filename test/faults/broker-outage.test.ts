// Fault 2, single-broker variant: the only broker is SIGKILLed for 20 s mid-run and restarted on
// the same data; participants, the publisher and the tracker reconnect on their own.
import { describe, expect, it } from 'vitest';
import { injectedCount, runFault } from './driver/fault-run.js';
import { afterOrders, stopBroker } from './injectors/broker-outage.js';

describe('fault: broker outage', () => {
  it('the only broker down for 20 s mid-run: everyone reconnects by themselves; every saga ends as expected, each event once', async () => {
    const report = await runFault({
      fault: 'broker-outage',
      sagas: 160,
      rate: 5,
      inject: async (ctx) => {
        await afterOrders(ctx, 50);
        await stopBroker(ctx, { downMs: 20_000 });
      },
    });
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
    expect(injectedCount(report.injected, 'brokerDown')).toBe(1);
    // Nobody died and was restarted by the supervisor: each process rode out the outage itself.
    expect(report.restarts).toEqual({});
    expect(report.verified.outcomes.tracker).toEqual(report.verified.outcomes.expected);
  }, 600_000);
});
