import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import pg from 'pg';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { MemorySchemaRegistry } from '@troupe/schema-registry';
import { KafkaTransport, OutboxRelay, PostgresOutbox, Publisher, SdkError } from '@troupe/sdk';
import { kafkaBrokers, SagaHarness, uniqueName } from '@troupe/testing';
import { readTopicToEnd } from '@troupe/kafka';
import { orderSaga, registerAll } from '../packages/sdk/src/participant/order-saga.fixture.js';
import { throwawaySchema } from './fixtures/pg-schema.js';
import { silentLogger } from './fixtures/sdk-kafka.js';

const PG_URL = process.env['TROUPE_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

describe('PostgreSQL outbox: migrations and relays on a real broker', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
  });

  const schemaName = (): string => throwawaySchema('outbox', cleanup);

  it('migrates once per version, concurrently and repeatedly, into the schema it is given', async () => {
    const schema = schemaName();
    const first = await Promise.all([1, 2, 3].map(() => PostgresOutbox.create({ connectionString: PG_URL, schema, poolSize: 2 })));
    cleanup.push(() => Promise.all(first.map((o) => o.close())));
    const applied = first.map((o) => o.migrated?.applied ?? []);
    expect(applied.flat()).toEqual([1, 2]);
    expect(first.map((o) => o.migrated?.version)).toEqual([2, 2, 2]);
    const again = await first[0]?.migrate();
    expect(again).toEqual({ schema, applied: [], version: 2 });
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    const tables = await c.query<{ table_name: string }>(
      'SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name',
      [schema],
    );
    await c.end();
    expect(tables.rows.map((r) => r.table_name)).toEqual(['inbox', 'migrations', 'outbox', 'outbox_shards']);
  });

  it('refuses a schema that is not migrated when migrating on start-up is not allowed, naming the command', async () => {
    const schema = schemaName();
    const err = await PostgresOutbox.create({ connectionString: PG_URL, schema, migrate: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SdkError);
    expect((err as SdkError).code).toBe('OUTBOX_NOT_MIGRATED');
    expect((err as SdkError).message).toContain(`troupe-outbox migrate --schema ${schema}`);
  });

  it('two relays on one outbox: every committed event reaches Kafka once, in per-saga order; rolled-back ones never', async () => {
    const suffix = uniqueName('outbox-relays');
    const saga = orderSaga(suffix);
    const codec = new MemorySchemaRegistry();
    await registerAll(codec, saga);
    const transport = await KafkaTransport.create({ brokers: kafkaBrokers(), logger: silentLogger });
    cleanup.push(() => transport.close());
    const harness = await SagaHarness.create({ transport, codec, events: saga.all, contracts: [saga.contract], partitions: 3 });
    cleanup.push(() => harness.close());
    const outbox = await PostgresOutbox.create({ connectionString: PG_URL, schema: schemaName(), poolSize: 6 });
    cleanup.push(() => outbox.close());
    const publisher = await Publisher.create({ transport, codec, source: 'order-service', contracts: [saga.contract], outbox });

    // Two relays, each taking one shard and a few rows per transaction, so they interleave.
    const relays = await Promise.all(
      [1, 2].map(() =>
        OutboxRelay.create({
          outbox,
          transport,
          batchSize: 7,
          shardsPerBatch: 1,
          pollIntervalMs: 200,
          logger: silentLogger,
          metricsRegistry: new Registry(),
        }),
      ),
    );
    cleanup.push(() => Promise.all(relays.map((r) => r.close())));

    const SAGAS = 60;
    const PER_SAGA = 8;
    const sagaIds = Array.from({ length: SAGAS }, (_, i) => `${suffix}-s${i}`);
    // Per saga, events are written one transaction after the other (as a saga's steps are);
    // every third transaction writes an extra event and then rolls back.
    await Promise.all(
      sagaIds.map(async (sagaId) => {
        for (let seq = 0; seq < PER_SAGA; seq++) {
          await outbox.transaction(async (tx) => {
            await publisher.publish(saga.events.OrderPlaced, { orderId: sagaId, amount: seq }, { sagaId, tx, id: `${sagaId}-${seq}` });
          });
          if (seq % 3 === 0) {
            await outbox
              .transaction(async (tx) => {
                await publisher.publish(
                  saga.events.OrderPlaced,
                  { orderId: sagaId, amount: -1 },
                  { sagaId, tx, id: `${sagaId}-rolled-back-${seq}` },
                );
                throw new Error('the caller changed its mind');
              })
              .catch(() => undefined);
          }
        }
      }),
    );

    const total = SAGAS * PER_SAGA;
    await harness.waitFor(async () => ((await harness.events()).length >= total ? true : undefined), `${total} events`, 120_000);
    await harness.settle(60_000);
    const events = await harness.events();
    const ids = events.map((e) => e.envelope.id);
    expect(ids).toHaveLength(total);
    expect(new Set(ids).size).toBe(total);
    expect(ids.filter((id) => id.includes('rolled-back'))).toEqual([]);
    for (const sagaId of sagaIds) {
      const order = events.filter((e) => e.envelope.sagaId === sagaId).map((e) => (e.payload as { amount: number }).amount);
      expect({ sagaId, order }).toEqual({ sagaId, order: Array.from({ length: PER_SAGA }, (_, i) => i) });
    }
    // No row was published by both relays.
    expect(relays.reduce((n, r) => n + r.published, 0)).toBe(total);
    expect(await outbox.backlog()).toEqual({ pending: 0, oldestAgeMs: 0 });
    const health = await relays[0]?.health();
    expect(health?.ready).toBe(true);
  });

  it('troupe-outbox migrates a schema, reports its backlog and relays it once, as a user runs it', async () => {
    const schema = schemaName();
    const cli = (...args: string[]) =>
      promisify(execFile)(process.execPath, ['--import', 'tsx', 'packages/sdk/src/cli/troupe-outbox.ts', ...args], {
        env: { ...process.env, DATABASE_URL: PG_URL },
      });
    expect((await cli('migrate', '--schema', schema)).stdout).toBe(`schema ${schema} is at version 2 (applied 1, 2)\n`);
    expect((await cli('migrate', '--schema', schema)).stdout).toBe(`schema ${schema} is at version 2 (up to date)\n`);

    const topic = uniqueName('outbox-cli');
    const transport = await KafkaTransport.create({ brokers: kafkaBrokers(), logger: silentLogger });
    cleanup.push(() => transport.close());
    await transport.ensureTopics([{ topic, partitions: 2, replicationFactor: 1 }]);
    const outbox = await PostgresOutbox.create({ connectionString: PG_URL, schema, migrate: false, poolSize: 2 });
    cleanup.push(() => outbox.close());
    await outbox.transaction((tx) =>
      outbox.append(
        tx,
        Array.from({ length: 5 }, (_, i) => ({
          topic,
          key: `s-${i}`,
          value: Buffer.from(`v${i}`),
          headers: { ce_id: `cli-${i}`, ce_type: 'test.Cli', ce_sagaid: `s-${i}` },
        })),
      ),
    );
    const status = JSON.parse((await cli('status', '--schema', schema, '--json')).stdout) as { pending: number; version: number };
    expect(status).toMatchObject({ pending: 5, version: 2, refused: 0 });

    const relayed = await cli('relay', '--schema', schema, '--brokers', kafkaBrokers().join(','), '--once', '--log-level', 'silent');
    expect(relayed.stdout).toBe('published 5 event(s)\n');
    const records = await readTopicToEnd(transport.kafka, topic);
    expect(records.map((r) => r.headers['ce_id']?.toString()).sort()).toEqual(['cli-0', 'cli-1', 'cli-2', 'cli-3', 'cli-4']);
    expect(await outbox.backlog()).toEqual({ pending: 0, oldestAgeMs: 0 });
  });
});
