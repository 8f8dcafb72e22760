// Fault 6: one participant slowed tenfold while orders flow: its lag grows, its memory stays
// bounded (reported), nothing is dropped, and it catches up once it runs freely again.
import { describe, expect, it } from 'vitest';
import { runFault } from './driver/fault-run.js';
import { afterOrders } from './injectors/broker-outage.js';
import { slowConsumer, type SlowConsumerReadings } from './injectors/slow-consumer.js';

describe('fault: slow consumer', () => {
  it('payment service slowed 10×: its lag grows, RSS stays bounded, it catches up; every saga ends as expected, each event once', async () => {
    const readings: SlowConsumerReadings = { lagAtStart: 0, maxLag: 0, rssBeforeMb: 0, maxRssMb: 0, samples: 0 };
    const report = await runFault({
      fault: 'slow-consumer',
      sagas: 150,
      rate: 5,
      inject: async (ctx) => {
        await afterOrders(ctx, 10);
        await slowConsumer(ctx, { service: 'payment-service', factor: 10, readings });
      },
      verifyMore: () => Promise.resolve({ slowConsumer: readings }),
    });
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
    expect(readings.samples).toBeGreaterThan(0);
    // It fell behind while slowed...
    expect(readings.maxLag).toBeGreaterThan(readings.lagAtStart);
    // ...with its memory bounded by its queues (maxQueuedRecords/Bytes), not by the backlog.
    expect(readings.maxRssMb).toBeLessThan(Math.max(2 * readings.rssBeforeMb, readings.rssBeforeMb + 256));
    expect(report.restarts).toEqual({});
  }, 600_000);
});
