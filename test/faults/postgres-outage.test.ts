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
    // Every service — the order service with its PostgreSQL outbox too — and the tracker ride out
    // the outage without dying: pools and checked-out clients handle a connection the server ends,
    // even one ended right as it became ready (test/sdk-outbox-pg-outage.test.ts and
    // test/tracker-postgres-outage.test.ts make that timing certain). The tracker's one restart is
    // the SIGKILL above.
    expect(report.restarts).toEqual({ 'saga-tracker': 1 });
    expect(report.verified.outcomes.tracker).toEqual(report.verified.outcomes.expected);
  }, 600_000);
});
