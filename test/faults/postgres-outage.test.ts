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
    // The Kafka-transactional services ride out the outage without dying (their pools replace
    // dropped connections). The order service (PostgreSQL outbox) and the tracker still die on an
    // unhandled pg Client 'error' and are restarted by the supervisor (reported in /work/COORD.md);
    // their restarts are in the JSON line, and the ground truth above holds either way.
    const kafkaTransactional = ['payment-service', 'inventory-service', 'shipping-service'];
    expect(Object.keys(report.restarts).filter((name) => kafkaTransactional.includes(name))).toEqual([]);
    expect(report.verified.outcomes.tracker).toEqual(report.verified.outcomes.expected);
  }, 600_000);
});
