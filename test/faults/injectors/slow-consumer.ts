import { setTimeout as sleep } from 'node:timers/promises';
import type { FaultContext } from '../driver/fault-run.js';
import { LagProbe } from '../driver/lag.js';
import type { ServiceName } from '../driver/service-fleet.js';
import { DOMAIN_TOPICS } from '../driver/verify.js';

/** What the slow consumer looked like, for the summary. */
export interface SlowConsumerReadings {
  /** The group's lag when slowing began, its highest while slowed, and when placing ended. */
  lagAtStart: number;
  maxLag: number;
  /** Resident set size of the slowed process, MB: before, highest while slowed. */
  rssBeforeMb: number;
  maxRssMb: number;
  samples: number;
}

/**
 * Slows one participant `factor`-fold while orders are placed: each second its process runs for
 * 1/factor of the time and is SIGSTOPped for the rest (its heartbeats keep well inside the session
 * timeout). Samples its group's lag and its RSS meanwhile; lets it run freely once placing ends,
 * so it must catch up.
 */
export async function slowConsumer(
  ctx: FaultContext,
  o: { readonly service: ServiceName; readonly factor: number; readonly readings: SlowConsumerReadings },
): Promise<void> {
  const lag = new LagProbe(ctx.brokers);
  const group = [o.service];
  const r = o.readings;
  r.rssBeforeMb = (await ctx.fleet.rssMb(o.service)) ?? 0;
  r.lagAtStart = (await lag.lag(group, DOMAIN_TOPICS))[o.service] ?? 0;
  ctx.count('slowed', o.service);
  ctx.log(`slowing ${o.service} ${o.factor}× after ${ctx.placed()} orders`);
  const runMs = Math.round(1000 / o.factor);
  let sampled = 0;
  try {
    while (!ctx.placingDone.aborted) {
      const pid = ctx.fleet.pid(o.service);
      if (pid !== undefined) {
        try {
          process.kill(pid, 'SIGSTOP');
          await sleep(1000 - runMs);
        } finally {
          try {
            process.kill(pid, 'SIGCONT');
          } catch {
            // gone: the supervisor starts it again
          }
        }
      }
      await sleep(runMs);
      if (Date.now() - sampled >= 3000) {
        sampled = Date.now();
        const rss = await ctx.fleet.rssMb(o.service);
        if (rss !== undefined) r.maxRssMb = Math.max(r.maxRssMb, rss);
        const lags = await lag.lag(group, DOMAIN_TOPICS).catch((): Record<string, number> => ({}));
        const l = lags[o.service];
        if (l !== undefined) r.maxLag = Math.max(r.maxLag, l);
        r.samples += 1;
      }
    }
  } finally {
    await lag.close();
  }
  ctx.log(`${o.service} runs at full speed again (max lag ${r.maxLag}, max RSS ${r.maxRssMb} MB)`);
}
