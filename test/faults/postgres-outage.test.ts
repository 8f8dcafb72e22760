// Faults 3 and 4: a PostgreSQL outage for the services' and the tracker's connections
// (pg_terminate_backend: the server is shared), then the tracker SIGKILLed mid-run and resumed
// from its PostgreSQL store. Every saga still ends as its ground truth says, each event once, and
// the tracker's final picture equals the ground truth.
import { describe, expect, it } from 'vitest';
import { injectedCount, runFault } from './driver/fault-run.js';
import { afterOrders } from './injectors/broker-outage.js';
import { postgresOutage, restartTracker } from './injectors/dependency-outages.js';

describe('fault: PostgreSQL outage and tracker restart', () => {
  it('PostgreSQL connections cut for 15 s, then the tracker SIGKILLed: handlers and tracker recover; its projection equals the ground truth', async () => {
    const report = await runFault({
      fault: 'postgres-outage+tracker-restart',
      sagas: 150,
      rate: 5,
      trackerStore: 'postgres',
      inject: async (ctx) => {
        await afterOrders(ctx, 40);
        await postgresOutage(ctx, { downMs: 15_000 });
        await afterOrders(ctx, 110);
        await restartTracker(ctx);
      },
    });
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
    expect(injectedCount(report.injected, 'backendsTerminated')).toBeGreaterThan(0);
    expect(injectedCount(report.injected, 'trackerKilled')).toBe(1);
    // The Kafka-transactional services and the tracker ride out the outage without dying (pools and
    // checked-out clients handle a connection the server ends); the tracker's one restart is the
    // SIGKILL above. The order service (PostgreSQL outbox) can still die on an unhandled pg 'error'
    // of some client and is restarted by the supervisor (open in issue 12); the ground truth holds either way.
    const mayRestart = new Set(['order-service']);
    expect(Object.fromEntries(Object.entries(report.restarts).filter(([name]) => !mayRestart.has(name)))).toEqual({ 'saga-tracker': 1 });
    expect(report.verified.outcomes.tracker).toEqual(report.verified.outcomes.expected);
  }, 600_000);
});
