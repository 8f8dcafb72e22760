// Review finding 8 of issue 12: under a PostgreSQL outage the order service died of an unhandled
// pg 'error' event. A pooled client checked out with `await pool.connect()` has no 'error' listener
// between the pool handing it over and the awaiting code running; a server that terminates the
// connection right after it became ready (pg_terminate_backend during an outage) delivers its
// FATAL in that gap. The proxy makes that timing certain instead of lucky.
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { readTopicToEnd } from '@troupe/kafka';
import { KafkaTransport } from '@troupe/sdk';
import { kafkaBrokers, uniqueName } from '@troupe/testing';
import { startChildParticipant } from './fixtures/sdk-child-process.js';
import { silentLogger } from './fixtures/sdk-kafka.js';
import { startTerminatingProxy } from './fixtures/pg-terminating-proxy.js';

const PG_URL = process.env['TROUPE_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const CHILD = fileURLToPath(new URL('./fixtures/outbox-pg-outage-child.ts', import.meta.url));

describe('PostgreSQL outbox under an outage that terminates backends (real broker, real PostgreSQL)', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
  });

  it('connections terminated as soon as they are ready: the process lives on, transactions fail retriably, the relay resumes and publishes every commit', async () => {
    const schema = `outbox_${randomBytes(5).toString('hex')}`;
    const appName = `troupe-outage-${randomBytes(4).toString('hex')}`;
    const db = new pg.Pool({ connectionString: PG_URL, max: 2 });
    db.on('error', () => undefined);
    cleanup.push(async () => {
      await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await db.end();
    });
    const topic = uniqueName('outbox-outage');
    const transport = await KafkaTransport.create({ brokers: kafkaBrokers(), logger: silentLogger });
    cleanup.push(() => transport.close());
    await transport.ensureTopics([{ topic, partitions: 1, replicationFactor: 1 }]);
    const proxy = await startTerminatingProxy(PG_URL);
    cleanup.push(() => proxy.close());
    const url = new URL(proxy.url);
    url.searchParams.set('application_name', appName);

    const child = startChildParticipant(
      { KAFKA_BROKERS: kafkaBrokers().join(','), PG_URL: url.toString(), OUTBOX_SCHEMA: schema, TOPIC: topic },
      CHILD,
    );
    cleanup.push(async () => {
      if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill('SIGKILL');
      await child.exited;
    });
    const count = (prefix: string): number => child.lines.filter((l) => l.startsWith(prefix)).length;
    const published = (): number => Math.max(0, ...child.lines.filter((l) => l.startsWith('PUBLISHED ')).map((l) => Number(l.slice(10))));
    await child.waitForLine(() => count('COMMITTED ') >= 3 && published() >= 3, 'three rows committed and published');

    // The outage: every pooled connection (transactions, the relay's rounds, its LISTEN) is
    // terminated, and each new one is terminated by the server right after it became ready.
    proxy.terminating = true;
    await db.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [appName]);
    await child.waitForLine(() => proxy.terminated >= 6 && count('FAILED ') >= 3, 'six connections terminated on arrival');
    expect(child.lines.filter((l) => l.startsWith('FAILED ')).every((l) => l === 'FAILED OUTBOX_STORE_ERROR')).toBe(true);
    const beforeResume = count('COMMITTED ');

    proxy.terminating = false;
    await child.waitForLine(() => count('COMMITTED ') >= beforeResume + 3, 'commits after the outage');
    await child.waitForLine(
      () => published() >= count('COMMITTED ') - 1 && count('COMMITTED ') >= beforeResume + 3,
      'the relay catching up',
    );
    expect(child.process.exitCode).toBeNull();
    child.process.kill('SIGTERM');
    expect((await child.exited).code).toBe(0);

    // Every committed row reached the topic (the relay drains on close); none of a failed transaction.
    const committed = child.lines.filter((l) => l.startsWith('COMMITTED ')).map((l) => `row-${l.slice(10)}`);
    const records = await readTopicToEnd(transport.kafka, topic);
    const ids = new Set(records.map((r) => r.headers['ce_id']?.toString()));
    expect(committed.filter((id) => !ids.has(id))).toEqual([]);
    expect(ids.size).toBe(committed.length);
    expect(proxy.terminated).toBeGreaterThanOrEqual(6);
  }, 240_000);
});
