import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import type { FaultContext } from '../driver/fault-run.js';
import { TRACKER, type ServiceName } from '../driver/service-fleet.js';

/**
 * Stops the run's schema registry for `downMs` and starts it again on the same port and storage.
 * With `coldStart`, that participant is SIGKILLed while the registry is down, so its restarted
 * process meets the outage with empty schema caches.
 */
export async function registryOutage(ctx: FaultContext, o: { readonly downMs: number; readonly coldStart?: ServiceName }): Promise<void> {
  const registry = ctx.registry;
  if (registry === undefined) throw new Error("a registry outage needs the run's own registry (registry: 'own')");
  await registry.stop();
  ctx.count('registryDown');
  ctx.log(`schema registry stopped after ${ctx.placed()} orders; down for ${o.downMs / 1000} s`);
  if (o.coldStart !== undefined && ctx.fleet.kill(o.coldStart)) {
    ctx.count('sigkillDuringRegistryOutage', o.coldStart);
    ctx.log(`SIGKILL ${o.coldStart}: it restarts while the registry is down`);
  }
  await sleep(o.downMs);
  await registry.startAgain();
  ctx.log(`schema registry back after ${ctx.placed()} orders`);
}

/**
 * A PostgreSQL outage for the run's processes only (the server is shared): for `downMs`, every
 * backend whose `application_name` is the run's is terminated as soon as it appears.
 */
export async function postgresOutage(ctx: FaultContext, o: { readonly downMs: number }): Promise<void> {
  const admin = new pg.Client({ connectionString: ctx.databaseUrl.replace(/application_name=[^&]*/, 'application_name=fault_admin') });
  await admin.connect();
  ctx.count('postgresOutage');
  ctx.log(`PostgreSQL outage for the run's connections after ${ctx.placed()} orders, ${o.downMs / 1000} s`);
  try {
    const until = Date.now() + o.downMs;
    while (Date.now() < until) {
      const res = await admin.query<{ n: string }>(
        'SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) AS n FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()',
        [ctx.pgApplicationName],
      );
      const n = Number(res.rows[0]?.n ?? 0);
      for (let i = 0; i < n; i++) ctx.count('backendsTerminated');
      await sleep(200);
    }
  } finally {
    await admin.end();
  }
  ctx.log(`PostgreSQL outage over after ${ctx.placed()} orders`);
}

/** SIGKILLs the tracker; the supervisor restarts it and it resumes from its store. */
export async function restartTracker(ctx: FaultContext): Promise<void> {
  if (ctx.fleet.kill(TRACKER)) {
    ctx.count('trackerKilled');
    ctx.log(`SIGKILL ${TRACKER} after ${ctx.placed()} orders`);
  }
  return Promise.resolve();
}
