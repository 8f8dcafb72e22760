// SIGKILL and database-restart tests of the PostgreSQL outbox and handler transactions. The suite
// runs them at a size that fits CI; `npm run soak:outbox` runs the full counts (200 kills
// of the order service, 500 sagas for the participant) by setting OUTBOX_SOAK=1.
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { MemorySchemaRegistry } from '@troupe/schema-registry';
import { KafkaTransport, OutboxRelay, Participant, PostgresOutbox } from '@troupe/sdk';
import { kafkaBrokers, SagaHarness, uniqueName, waitFor } from '@troupe/testing';
import { orderSaga, registerAll } from '../packages/sdk/src/participant/order-saga.fixture.js';
import { outboxPaymentStep } from './fixtures/outbox-payment-step.js';
import { startChildParticipant, type ChildParticipant } from './fixtures/sdk-child-process.js';
import { silentLogger } from './fixtures/sdk-kafka.js';

const PG_URL = process.env['TROUPE_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const SOAK = process.env['OUTBOX_SOAK'] === '1';
const ORDER_KILLS = SOAK ? 200 : 12;
// At most two new orders per life of the service: orders never run out before the last kill.
const ORDERS = ORDER_KILLS * 3;
const HANDLER_SAGAS = 500;
const HANDLER_KILLS = SOAK ? 25 : 4;
const ORDER_CHILD = fileURLToPath(new URL('./fixtures/outbox-order-service-child.ts', import.meta.url));
const PARTICIPANT_CHILD = fileURLToPath(new URL('./fixtures/outbox-participant-child.ts', import.meta.url));

/** Each test's limit: generous for a loaded 2-core machine; the soak size runs for many minutes. */
const TEST_TIMEOUT_MS = SOAK ? 3_600_000 : 300_000;

const randomInt = (min: number, max: number): number => min + Math.floor(Math.random() * (max - min + 1));

describe('PostgreSQL outbox under SIGKILL and database restarts (real broker, real PostgreSQL)', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
  });

  async function setup(prefix: string) {
    const suffix = uniqueName(prefix);
    const saga = orderSaga(suffix);
    const codec = new MemorySchemaRegistry();
    await registerAll(codec, saga);
    const transport = await KafkaTransport.create({ brokers: kafkaBrokers(), logger: silentLogger, redeliveryDelayMs: 50 });
    cleanup.push(() => transport.close());
    const harness = await SagaHarness.create({ transport, codec, events: saga.all, contracts: [saga.contract], partitions: 3 });
    cleanup.push(() => harness.close());
    const tag = randomBytes(5).toString('hex');
    const schema = `outbox_${tag}`;
    const db = new pg.Pool({ connectionString: PG_URL, max: 2 });
    db.on('error', () => undefined);
    cleanup.push(async () => {
      await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await db.end();
    });
    await db.query(`CREATE SCHEMA ${schema}`);
    const children: ChildParticipant[] = [];
    const start = (script: string, extra: Record<string, string>): ChildParticipant => {
      const child = startChildParticipant(
        { KAFKA_BROKERS: kafkaBrokers().join(','), SAGA_SUFFIX: suffix, PG_URL, OUTBOX_SCHEMA: schema, GROUP_SUFFIX: suffix, ...extra },
        script,
      );
      children.push(child);
      cleanup.push(async () => {
        if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill('SIGKILL');
        await child.exited;
      });
      return child;
    };
    const kill = async (child: ChildParticipant): Promise<void> => {
      child.process.kill('SIGKILL');
      expect((await child.exited).signal).toBe('SIGKILL');
    };
    return { suffix, saga, codec, transport, harness, schema, db, start, kill, children };
  }

  it(
    `order service SIGKILLed ${ORDER_KILLS} times between its DB commit and the relay's publish: every order has exactly one saga, no saga lacks an order`,
    async () => {
      const { suffix, saga, harness, schema, db, start, kill } = await setup('outbox-orders');
      const orders = `${schema}.orders`;
      await db.query(`CREATE TABLE ${orders} (id text PRIMARY KEY, amount integer NOT NULL)`);
      const env = { ORDER_TABLE: orders, ORDER_PREFIX: suffix, ORDER_COUNT: String(ORDERS) };
      let killsInWindow = 0;
      for (let k = 0; k < ORDER_KILLS; k++) {
        const child = start(ORDER_CHILD, env);
        const target = randomInt(1, 2);
        // Killed right after a commit: the relay in the same process has (most often) not published it yet.
        await child.waitForLine((_, all) => all.filter((x) => x.startsWith('COMMITTED ')).length >= target, 'a commit');
        await kill(child);
        const waiting = await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${schema}.outbox WHERE published_at IS NULL`);
        if (Number(waiting.rows[0]?.n ?? 0) > 0) killsInWindow += 1;
      }
      const last = start(ORDER_CHILD, env);
      await last.waitForLine((l) => l === 'DRAINED', 'DRAINED', 180_000);
      last.process.kill('SIGTERM');
      expect((await last.exited).code).toBe(0);
      await harness.settle(60_000);

      const stored = (await db.query<{ id: string }>(`SELECT id FROM ${orders} ORDER BY id`)).rows.map((r) => r.id);
      expect(stored).toHaveLength(ORDERS);
      const placed = await harness.events({ type: saga.events.OrderPlaced });
      const idsBySaga = new Map<string, Set<string>>();
      for (const ev of placed) idsBySaga.set(ev.envelope.sagaId, (idsBySaga.get(ev.envelope.sagaId) ?? new Set()).add(ev.envelope.id));
      // Every stored order started its saga, no saga started without an order...
      expect([...idsBySaga.keys()].sort()).toEqual(stored);
      // ...and each order started exactly one saga: one OrderPlaced (one ce_id) per order, even when
      // the relay published it again after a kill between the broker's ack and marking the row.
      expect([...idsBySaga].filter(([, ids]) => ids.size !== 1)).toEqual([]);
      console.log(
        `[outbox-orders] ${ORDER_KILLS} kills, ${killsInWindow} left committed events unpublished; ${placed.length} OrderPlaced records for ${ORDERS} orders (${placed.length - ORDERS} republished after a kill)`,
      );
      // The kills did land in the window this test is about.
      expect(killsInWindow).toBeGreaterThan(0);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    `participant SIGKILLed ${HANDLER_KILLS} times inside handler transactions over ${HANDLER_SAGAS} sagas: each effect row once, each output once among read_committed records`,
    async () => {
      const { suffix, saga, transport, harness, schema, db, start, kill, children } = await setup('outbox-handler');
      const effects = `${schema}.effects`;
      // No unique key: a repeated effect would be a second row.
      await db.query(`CREATE TABLE ${effects} (saga_id text NOT NULL, pid integer NOT NULL)`);
      const env = { EFFECT_TABLE: effects };
      const outbox = await PostgresOutbox.create({ connectionString: PG_URL, schema, poolSize: 3 });
      cleanup.push(() => outbox.close());
      // The relay runs here, never killed: the kills hit handler transactions only.
      const relay = await OutboxRelay.create({
        outbox,
        transport,
        logger: silentLogger,
        pollIntervalMs: 200,
        metricsRegistry: new Registry(),
      });
      cleanup.push(() => relay.close());

      const first = start(PARTICIPANT_CHILD, env);
      await first.waitForLine((l) => l === 'READY', 'READY');
      const ids = Array.from({ length: HANDLER_SAGAS }, (_, i) => `${suffix}-${i}`);
      for (let i = 0; i < ids.length; i += 50) {
        await Promise.all(
          ids.slice(i, i + 50).map((id) => harness.publish(saga.events.OrderPlaced, { orderId: id, amount: 1 }, { sagaId: id })),
        );
      }
      let child = first;
      for (let k = 0; k < HANDLER_KILLS; k++) {
        const target = randomInt(5, Math.floor(HANDLER_SAGAS / (HANDLER_KILLS + 1)));
        // Or every saga's effect written already (the child ran ahead of a loaded test process): nothing left to kill into.
        const allEffected = (): boolean =>
          new Set(children.flatMap((c) => c.lines.filter((l) => l.startsWith('EFFECT ')))).size >= HANDLER_SAGAS;
        await child.waitForLine(
          (_, all) => all.filter((l) => l.startsWith('EFFECT ')).length >= target || allEffected(),
          `${target} effects`,
          240_000,
        );
        await kill(child);
        child = start(PARTICIPANT_CHILD, env);
        await child.waitForLine((l) => l === 'READY', 'READY after a kill');
      }
      await harness.waitFor(
        async () => ((await harness.events({ type: saga.events.PaymentCharged })).length >= HANDLER_SAGAS ? true : undefined),
        `${HANDLER_SAGAS} PaymentCharged`,
        240_000,
      );
      child.process.kill('SIGTERM');
      expect((await child.exited).code).toBe(0);
      await waitFor(async () => (await outbox.backlog()).pending === 0, { description: 'the outbox drained', timeoutMs: 60_000 });
      await harness.settle(60_000);

      const rows = await db.query<{ saga_id: string; n: string }>(`SELECT saga_id, count(*) AS n FROM ${effects} GROUP BY saga_id`);
      expect(rows.rows.filter((r) => r.n !== '1')).toEqual([]);
      expect(rows.rows.map((r) => r.saga_id).sort()).toEqual([...ids].sort());
      const charged = await harness.events({ type: saga.events.PaymentCharged });
      expect(charged).toHaveLength(HANDLER_SAGAS);
      expect(new Set(charged.map((e) => e.envelope.id)).size).toBe(HANDLER_SAGAS);
      expect(new Set(charged.map((e) => e.envelope.sagaId)).size).toBe(HANDLER_SAGAS);
      // The kills did hit open transactions: some effects were written, rolled back and written again.
      const effectLines = children.flatMap((c) => c.lines.filter((l) => l.startsWith('EFFECT ')));
      console.log(`[outbox-handler] ${HANDLER_KILLS} kills; ${effectLines.length} effect writes for ${HANDLER_SAGAS} committed effects`);
      expect(effectLines.length).toBeGreaterThan(HANDLER_SAGAS);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'PostgreSQL connections terminated mid-run (pg_terminate_backend): handlers retry, nothing lost or repeated, the relay resumes',
    async () => {
      const { suffix, saga, codec, transport, harness, schema, db } = await setup('outbox-pgrestart');
      const effects = `${schema}.effects`;
      await db.query(`CREATE TABLE ${effects} (saga_id text NOT NULL)`);
      const appName = `troupe-test-${randomBytes(4).toString('hex')}`;
      const pool = new pg.Pool({ connectionString: PG_URL, max: 6, application_name: appName });
      pool.on('error', () => undefined);
      cleanup.push(() => pool.end());
      const outbox = await PostgresOutbox.create({ pool, schema });
      const e = saga.events;
      let effectsWritten = 0;
      const payment = await Participant.create({
        name: 'payment-service',
        groupId: `payment-${suffix}`,
        transport,
        codec,
        contracts: [saga.contract],
        events: saga.all,
        logger: silentLogger,
        metricsRegistry: new Registry(),
        delivery: 'at-least-once',
        retry: { attempts: 3, initialDelayMs: 10, maxDelayMs: 50 },
        outbox,
        relay: { pollIntervalMs: 200 },
        handlers: [
          outboxPaymentStep(saga, effects, {
            jitterMs: 4,
            afterEffect: () => {
              effectsWritten += 1;
            },
          }),
        ],
      });
      cleanup.push(() => payment.close());
      const SAGAS = 200;
      const ids = Array.from({ length: SAGAS }, (_, i) => `${suffix}-${i}`);
      const publishing = (async () => {
        for (let i = 0; i < ids.length; i += 20) {
          await Promise.all(ids.slice(i, i + 20).map((id) => harness.publish(e.OrderPlaced, { orderId: id, amount: 1 }, { sagaId: id })));
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      })();
      let terminated = 0;
      for (const after of [30, 90, 150]) {
        await waitFor(() => Promise.resolve(effectsWritten >= after), { description: `${after} effects`, timeoutMs: 120_000 });
        const res = await db.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [appName]);
        terminated += res.rowCount ?? 0;
      }
      await publishing;
      await harness.waitFor(
        async () =>
          new Set((await harness.events({ type: e.PaymentCharged })).map((x) => x.envelope.sagaId)).size >= SAGAS ? true : undefined,
        `${SAGAS} sagas charged`,
        180_000,
      );
      await waitFor(async () => (await payment.health()).ready, { description: 'the participant ready again', timeoutMs: 60_000 });
      await payment.close();
      await harness.settle(60_000);

      expect(terminated).toBeGreaterThan(0);
      const rows = await db.query<{ saga_id: string; n: string }>(`SELECT saga_id, count(*) AS n FROM ${effects} GROUP BY saga_id`);
      expect(rows.rows.filter((r) => r.n !== '1')).toEqual([]);
      expect(rows.rows).toHaveLength(SAGAS);
      const charged = await harness.events({ type: e.PaymentCharged });
      const idsBySaga = new Map<string, Set<string>>();
      for (const ev of charged) idsBySaga.set(ev.envelope.sagaId, (idsBySaga.get(ev.envelope.sagaId) ?? new Set()).add(ev.envelope.id));
      expect(idsBySaga.size).toBe(SAGAS);
      // One output per saga (one ce_id); a relay cut off between the broker's ack and its commit may publish it twice.
      expect([...idsBySaga].filter(([, s]) => s.size !== 1)).toEqual([]);
      console.log(`[outbox-pgrestart] ${terminated} backends terminated; ${charged.length} PaymentCharged records for ${SAGAS} sagas`);
      expect(await outbox.backlog()).toEqual({ pending: 0, oldestAgeMs: 0 });
    },
    TEST_TIMEOUT_MS,
  );
});
