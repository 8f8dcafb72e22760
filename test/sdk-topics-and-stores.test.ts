import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { MemorySchemaRegistry } from '@troupe/schema-registry';
import { KafkaTransport, Participant, PostgresIdempotencyStore, SdkError } from '@troupe/sdk';
import { createTopics, kafkaBrokers, uniqueName } from '@troupe/testing';
import { newLedger, orderSaga, paymentHandlers } from '../packages/sdk/src/participant/order-saga.fixture.js';
import { silentLogger } from './fixtures/sdk-kafka.js';

const PG_URL = process.env['TROUPE_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

describe('topics on a real broker', () => {
  let transport: KafkaTransport | undefined;
  afterAll(() => transport?.close());

  it('refuses to start when the topics of one saga have different partition counts, saying what to do', async () => {
    const saga = orderSaga(uniqueName('sdk-mismatch'));
    await createTopics([
      { topic: saga.events.OrderPlaced.topic, partitions: 3 },
      { topic: saga.events.PaymentCharged.topic, partitions: 2 },
    ]);
    transport = await KafkaTransport.create({ brokers: kafkaBrokers(), logger: silentLogger });
    const err = await Participant.create({
      name: 'payment-service',
      transport,
      codec: new MemorySchemaRegistry(),
      handlers: paymentHandlers(saga, newLedger()),
      contracts: [saga.contract],
      events: saga.all,
      logger: silentLogger,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SdkError);
    expect((err as SdkError).code).toBe('TOPIC_PARTITIONS_MISMATCH');
    expect((err as SdkError).message).toContain(`${saga.events.OrderPlaced.topic}=3`);
    expect((err as SdkError).message).toContain(`${saga.events.PaymentCharged.topic}=2`);
    expect((err as SdkError).message).toMatch(/--partitions 3/);
    // Nothing was created on the way: the dead-letter topic does not exist.
    expect((await transport.partitionCounts([`${saga.events.OrderPlaced.topic}.dlq`])).size).toBe(0);
  });

  it('creates the missing topics of a saga with the partition count the existing ones share', async () => {
    const saga = orderSaga(uniqueName('sdk-create'));
    await createTopics([{ topic: saga.events.OrderPlaced.topic, partitions: 4 }]);
    transport ??= await KafkaTransport.create({ brokers: kafkaBrokers(), logger: silentLogger });
    const p = await Participant.create({
      name: 'payment-service',
      // Its own group: the group's inbox topic must be new too, with the saga's partition count.
      groupId: uniqueName('payment-service'),
      transport,
      codec: new MemorySchemaRegistry(),
      handlers: paymentHandlers(saga, newLedger()),
      contracts: [saga.contract],
      events: saga.all,
      logger: silentLogger,
    });
    try {
      const counts = await transport.partitionCounts([
        saga.events.OrderPlaced.topic,
        saga.events.PaymentCharged.topic,
        `${saga.events.OrderPlaced.topic}.dlq`,
      ]);
      expect([...counts.values()]).toEqual([4, 4, 4]);
      expect(await p.health()).toMatchObject({ live: true, ready: true, details: { broker: 'reachable', consumer: 'running' } });
    } finally {
      await p.close();
    }
    expect(await p.health()).toMatchObject({ live: false, ready: false, details: { consumer: 'closed' } });
  });
});

describe('PostgresIdempotencyStore', () => {
  const table = `sdk_idem_${randomBytes(5).toString('hex')}`;
  let store: PostgresIdempotencyStore | undefined;
  afterAll(async () => {
    await store?.close();
    const pool = new pg.Pool({ connectionString: PG_URL, max: 1 });
    await pool.query(`DROP TABLE IF EXISTS ${table}`);
    await pool.end();
  });

  it('creates its table, keeps the first result per key and returns it to later writers', async () => {
    store = await PostgresIdempotencyStore.create({ connectionString: PG_URL, table });
    expect(await store.get('k1')).toBeUndefined();
    expect(await store.putIfAbsent('k1', { chargeId: 'ch-1', amount: 5 })).toEqual({ chargeId: 'ch-1', amount: 5 });
    expect(await store.putIfAbsent('k1', { chargeId: 'ch-2' })).toEqual({ chargeId: 'ch-1', amount: 5 });
    expect(await store.get('k1')).toEqual({ value: { chargeId: 'ch-1', amount: 5 } });
    await store.putIfAbsent('k2', undefined);
    expect(await store.get('k2')).toEqual({ value: undefined });
    // A second instance (another participant process) sees the same results.
    const other = await PostgresIdempotencyStore.create({ connectionString: PG_URL, table });
    expect(await other.get('k1')).toEqual({ value: { chargeId: 'ch-1', amount: 5 } });
    await other.close();
  });

  it('outlives the server dropping its idle connections (pg_terminate_backend) and answers again', async () => {
    const app = `sdk_idem_${randomBytes(4).toString('hex')}`;
    const url = new URL(PG_URL);
    url.searchParams.set('application_name', app);
    const survivor = await PostgresIdempotencyStore.create({ connectionString: url.toString(), table });
    await survivor.putIfAbsent('k3', 'before');
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    const { rows } = await admin.query<{ n: string }>(
      'SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) AS n FROM pg_stat_activity WHERE application_name = $1',
      [app],
    );
    await admin.end();
    expect(Number(rows[0]?.n)).toBeGreaterThan(0);
    // The dropped idle connection surfaces as a pool 'error'; unhandled, it would have ended this process.
    await expect.poll(() => survivor.get('k3').catch(() => undefined), { timeout: 10_000 }).toEqual({ value: 'before' });
    await survivor.close();
  });

  it('refuses a table name that is not a plain identifier', async () => {
    await expect(PostgresIdempotencyStore.create({ connectionString: PG_URL, table: 'x; drop table y' })).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
    });
  });
});
