import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SagaContract } from '@troupe/core';
import { loadCatalog } from '@troupe/schema-registry';
import { PostgresSagaStore, SagaTracker, type SagaProjection, type SagaStore } from '@troupe/saga-tracker';
import { kafkaBrokers, testKafka, uniqueName, waitFor, waitForValue } from '@troupe/testing';
import { SagaEventWriter, createSagaTopics, orderEvents, type SagaTopics } from './fixtures/tracker-kafka.js';

const PG_URL = process.env['TROUPE_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const SCHEMAS = fileURLToPath(new URL('../schemas', import.meta.url));
const CLI = fileURLToPath(new URL('../packages/saga-tracker/src/cli/troupe-tracker.ts', import.meta.url));
const SAGAS = 240;
const silent = pino({ level: 'silent' });

/** Records of SAGAS sagas with a mix of outcomes, in two halves (the second written while the tracker is down). */
function sagaRecords(t: SagaTopics, run: string): ReturnType<typeof SagaEventWriter.chain>[] {
  const ev = orderEvents(t);
  const shapes = [
    [ev.placed, ev.charged, ev.reserved, ev.scheduled, ev.completed],
    [ev.placed, ev.declined, ev.cancelled],
    [ev.placed, ev.charged, ev.outOfStock, ev.refunded, ev.cancelled],
    [ev.placed, ev.charged, ev.reserved],
  ];
  const start = Date.now() - 60_000;
  return Array.from({ length: SAGAS }, (_, i) =>
    SagaEventWriter.chain(`${run}-${i}`, shapes[i % shapes.length] ?? [], { startMs: start + i }),
  );
}

async function endOffsets(topics: readonly string[]): Promise<number> {
  const admin = testKafka().admin();
  await admin.connect();
  try {
    let total = 0;
    for (const topic of topics) for (const p of await admin.fetchTopicOffsets(topic)) total += Number(p.high);
    return total;
  } finally {
    await admin.disconnect();
  }
}

async function storedOffsetSum(schema: string, group: string): Promise<number> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    const r = await c.query<{ n: string | null }>(`SELECT sum(next_offset)::text AS n FROM "${schema}".offsets WHERE group_id = $1`, [
      group,
    ]);
    return Number(r.rows[0]?.n ?? 0);
  } catch {
    return 0; // tables not created yet
  } finally {
    await c.end();
  }
}

async function dropSchema(schema: string): Promise<void> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await c.end();
}

function startCli(args: string[]): { child: ChildProcess; url: Promise<string>; output: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], {
    env: { ...process.env, KAFKAJS_NO_PARTITIONER_WARNING: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const url = new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /TRACKER_URL=(\S+)/.exec(out);
      if (m?.[1] !== undefined) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`troupe-tracker exited with ${code} before it was ready:\n${out}`)));
  });
  return { child, url, output: () => out };
}

async function allProjections(store: SagaStore, ids: readonly string[]): Promise<Map<string, SagaProjection | undefined>> {
  const out = new Map<string, SagaProjection | undefined>();
  for (const id of ids) out.set(id, (await store.get(id))?.projection);
  return out;
}

describe('tracker with the postgres store', () => {
  let topics: SagaTopics;
  let writer: SagaEventWriter;
  let records: ReturnType<typeof sagaRecords>;
  let ids: string[];
  const run = uniqueName('r');
  const schemas: string[] = [];
  const children: ChildProcess[] = [];
  const trackers: SagaTracker[] = [];
  let reference: Map<string, SagaProjection | undefined>;
  let contracts: SagaContract[];

  beforeAll(async () => {
    topics = await createSagaTopics('trk-pg');
    writer = await SagaEventWriter.create();
    records = sagaRecords(topics, run);
    ids = records.map((r) => r[0]?.key ?? '');
    contracts = (await loadCatalog(SCHEMAS)).contracts.map((c) => c.contract);
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    for (const t of trackers) await t.close().catch(() => undefined);
    await writer.close();
    for (const s of schemas) await dropSchema(s).catch(() => undefined);
  });

  const sagaTopicsList = (): string => [topics.orders, topics.payments, topics.inventory, topics.shipping].join(',');
  const dlqPattern = (): string => `^${topics.payments.replace(/\./g, '\\.')}\\.dlq$`;

  it('resumes exactly where a killed tracker stopped, ending with the projection of an uninterrupted run', async () => {
    const half = Math.floor(records.length / 2);
    await writer.send(records.slice(0, half).flat());

    const schema = `trk_${randomBytes(5).toString('hex')}`;
    schemas.push(schema);
    const group = uniqueName('trk-pg-group');
    const args = [
      '--brokers',
      kafkaBrokers().join(','),
      '--schemas',
      SCHEMAS,
      '--topics',
      sagaTopicsList(),
      '--dlq-pattern',
      dlqPattern(),
      '--store',
      'postgres',
      '--postgres-url',
      PG_URL,
      '--postgres-schema',
      schema,
      '--group',
      group,
      // The killed instance's partitions move to the restarted one after this long.
      '--session-timeout',
      '6000',
      '--port',
      '0',
      '--log-level',
      'warn',
    ];
    const first = startCli(args);
    children.push(first.child);
    await first.url;
    // Kill it without any chance to commit or close, as soon as it has applied something.
    await waitFor(async () => (await storedOffsetSum(schema, group)) > 0, {
      description: 'the first tracker to apply a batch',
      timeoutMs: 60_000,
    });
    first.child.kill('SIGKILL');
    await new Promise((r) => first.child.once('exit', r));
    const appliedBeforeKill = await storedOffsetSum(schema, group);
    expect(appliedBeforeKill).toBeGreaterThan(0);

    await writer.send(records.slice(half).flat());
    const total = await endOffsets(topics.all);
    expect(total).toBe(records.flat().length);
    expect(appliedBeforeKill).toBeLessThan(total);

    const second = startCli(args);
    children.push(second.child);
    const url = await second.url;
    await waitFor(async () => (await storedOffsetSum(schema, group)) === total, {
      description: 'the restarted tracker to reach the end',
      timeoutMs: 90_000,
    });
    const metrics = await (await fetch(`${url}/metrics`)).text();
    const ingested = [...metrics.matchAll(/^troupe_tracker_events_ingested_total\{[^}]*\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
    // Exact resume: the restart applied every record after the stored offsets, and none before them.
    expect(ingested).toBe(total - appliedBeforeKill);
    second.child.kill('SIGTERM');
    await new Promise((r) => second.child.once('exit', r));

    // The uninterrupted run: a memory tracker reading everything once.
    const memory = await SagaTracker.create({
      brokers: kafkaBrokers(),
      topics: sagaTopicsList().split(','),
      deadLetterPattern: new RegExp(dlqPattern()),
      contracts,
      port: 0,
      logger: silent,
    });
    trackers.push(memory);
    await waitFor(() => memory.ingest.eventsApplied === total, { description: 'the memory tracker to read everything', timeoutMs: 60_000 });
    reference = await allProjections(memory.store, ids);

    const durable = await PostgresSagaStore.create({ connectionString: PG_URL, schema, contracts });
    const resumed = await allProjections(durable, ids);
    await durable.close();
    expect(resumed.size).toBe(SAGAS);
    expect([...resumed.values()].every((p) => p !== undefined)).toBe(true);
    expect(resumed).toEqual(reference);
    const statuses = [...reference.values()].map((p) => p?.status);
    expect(new Set(statuses)).toEqual(new Set(['completed', 'compensated', 'running']));
  });

  it('gives the same projection from two instances sharing one database and group', async () => {
    const schema = `trk_${randomBytes(5).toString('hex')}`;
    schemas.push(schema);
    const groupId = uniqueName('trk-pg-pair');
    const make = (): Promise<SagaTracker> =>
      SagaTracker.create({
        brokers: kafkaBrokers(),
        topics: sagaTopicsList().split(','),
        deadLetterPattern: new RegExp(dlqPattern()),
        contracts,
        store: { kind: 'postgres', url: PG_URL, schema },
        groupId,
        port: 0,
        logger: silent,
      });
    const [a, b] = await Promise.all([make(), make()]);
    trackers.push(a, b);
    const total = records.flat().length;
    await waitForValue(async () => ((await storedOffsetSum(schema, groupId)) === total ? true : undefined), {
      description: 'the pair to read every partition',
      timeoutMs: 90_000,
    });
    // Both instances did part of the work, and both answer with the full picture.
    expect(a.ingest.eventsApplied + b.ingest.eventsApplied).toBeGreaterThanOrEqual(total);
    expect(await allProjections(a.store, ids)).toEqual(reference);
    expect(await allProjections(b.store, ids)).toEqual(reference);
  });
});
