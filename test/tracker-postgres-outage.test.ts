// The tracker's PostgreSQL store under an outage that terminates each new connection right after it
// became ready (the proxy makes that timing certain): its transactions fail with STORE_UNAVAILABLE
// and work again afterwards. Before, the client was guarded only after `await pool.connect()`, and
// the server's FATAL, parsed in the same socket read as ReadyForQuery, was an unhandled 'error'
// event — an uncaught exception that ended the tracker (here: vitest reports it and the run fails).
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { PostgresSagaStore, TrackerError } from '@troupe/saga-tracker';
import { startTerminatingProxy } from './fixtures/pg-terminating-proxy.js';

const PG_URL = process.env['TROUPE_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

describe('tracker PostgreSQL store: connections terminated as soon as they are ready', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
  });

  it('its transactions fail with STORE_UNAVAILABLE during the outage and succeed after it; the process lives on', async () => {
    const schema = `tracker_${randomBytes(5).toString('hex')}`;
    const appName = `troupe-tracker-outage-${randomBytes(4).toString('hex')}`;
    const db = new pg.Pool({ connectionString: PG_URL, max: 2 });
    db.on('error', () => undefined);
    cleanup.push(async () => {
      await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await db.end();
    });
    const proxy = await startTerminatingProxy(PG_URL);
    cleanup.push(() => proxy.close());
    const url = new URL(proxy.url);
    url.searchParams.set('application_name', appName);
    const store = await PostgresSagaStore.create({ connectionString: url.toString(), schema, retention: { finishedMs: 60_000 } });
    cleanup.push(() => store.close());
    expect(await store.purge(Date.now())).toMatchObject({ sagasDeleted: 0 });

    proxy.terminating = true;
    await db.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [appName]);
    const failures: unknown[] = [];
    while (proxy.terminated < 4) failures.push(await store.purge(Date.now()).catch((e: unknown) => e));
    expect(failures.length).toBeGreaterThan(0);
    expect(failures.every((e) => e instanceof TrackerError && e.code === 'STORE_UNAVAILABLE')).toBe(true);

    proxy.terminating = false;
    expect(await store.purge(Date.now())).toMatchObject({ sagasDeleted: 0 });
  }, 120_000);
});
