// Faults 2 and 3 on the 3-broker cluster (replication 3, min.insync.replicas 2) with the run's own
// schema registry: the leader of the busiest partition SIGKILLed and restarted later, a rolling
// restart of all three brokers, then the registry stopped while the payment service restarts with
// empty schema caches. Every saga still ends as its ground truth says, each event once.
//
// OPEN (docs/faults.md, "Open"): in 1 of 3 runs one event appeared twice under the same ce_id among
// read_committed records after the leader kill, so this file is not part of npm test until that is
// fixed. Run it with `npm run test:faults:open`.
import { describe, expect, it } from 'vitest';
import { injectedCount, runFault } from '../driver/fault-run.js';
import { afterOrders, killBusiestLeader, rollingRestart } from '../injectors/broker-outage.js';
import { registryOutage } from '../injectors/dependency-outages.js';

describe('fault: broker loss on a 3-broker cluster, then a registry outage', () => {
  it('busiest leader killed, all brokers restarted in turn, registry down: nobody loses or doubles a saga', async () => {
    const report = await runFault({
      fault: 'broker-loss+registry-outage',
      kafka: { brokers: 3 },
      registry: 'own',
      sagas: 240,
      rate: 5,
      inject: async (ctx) => {
        await afterOrders(ctx, 30);
        await killBusiestLeader(ctx, { downMs: 15_000 });
        await afterOrders(ctx, 110);
        await rollingRestart(ctx, { gapMs: 3_000 });
        await registryOutage(ctx, { downMs: 10_000, coldStart: 'payment-service' });
      },
    });
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.brokers).toBe(3);
    expect(injectedCount(report.injected, 'leaderKilled')).toBe(1);
    expect(injectedCount(report.injected, 'rollingRestart')).toBe(3);
    expect(injectedCount(report.injected, 'registryDown')).toBe(1);
    // The only restart the supervisor may do is of the process SIGKILLed during the registry outage.
    expect(Object.keys(report.restarts).filter((name) => name !== 'payment-service')).toEqual([]);
    expect(report.verified.outcomes.tracker).toEqual(report.verified.outcomes.expected);
  }, 900_000);
});
