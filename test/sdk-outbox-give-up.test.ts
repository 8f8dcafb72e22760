// Review finding 5 of issue 12: a PostgreSQL-transactional participant that gives up on an event
// must ask the inbox first, like a normal attempt. An attempt that timed out runs on and may commit
// (inbox row, effect, PaymentCharged in the outbox); the give-up then finds the inbox row and must
// emit nothing: no dead letter claiming the saga failed, no failure event.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { headerString } from '@troupe/core';
import { MemorySchemaRegistry } from '@troupe/schema-registry';
import { DLQ_HEADER, KafkaTransport, Participant, PostgresOutbox, step } from '@troupe/sdk';
import { kafkaBrokers, SagaHarness, uniqueName, waitFor } from '@troupe/testing';
import {
  orderSaga,
  registerAll,
  type OrderPlaced,
  type PaymentCharged,
  type PaymentDeclined,
} from '../packages/sdk/src/participant/order-saga.fixture.js';
import { silentLogger } from './fixtures/sdk-kafka.js';

const PG_URL = process.env['TROUPE_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

describe('PostgreSQL outbox: giving up respects the inbox (real broker, real PostgreSQL)', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
  });

  it('an attempt that timed out but committed late: the give-up emits neither a dead letter nor the failure; a real give-up still does both', async () => {
    const suffix = uniqueName('outbox-giveup');
    const saga = orderSaga(suffix);
    const e = saga.events;
    const codec = new MemorySchemaRegistry();
    await registerAll(codec, saga);
    const transport = await KafkaTransport.create({ brokers: kafkaBrokers(), logger: silentLogger, redeliveryDelayMs: 50 });
    cleanup.push(() => transport.close());
    const harness = await SagaHarness.create({ transport, codec, events: saga.all, contracts: [saga.contract], partitions: 3 });
    cleanup.push(() => harness.close());
    const schema = `outbox_${randomBytes(5).toString('hex')}`;
    const db = new pg.Pool({ connectionString: PG_URL, max: 2 });
    db.on('error', () => undefined);
    cleanup.push(async () => {
      await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await db.end();
    });
    const outbox = await PostgresOutbox.create({ connectionString: PG_URL, schema, poolSize: 6 });
    cleanup.push(() => outbox.close());
    const effects = `${schema}.effects`;
    await db.query(`CREATE TABLE ${effects} (saga_id text NOT NULL)`);

    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const late = `${suffix}-late`;
    const failing = `${suffix}-fails`;
    const groupId = `payment-${suffix}`;
    const payment = await Participant.create({
      name: 'payment-service',
      groupId,
      transport,
      codec,
      contracts: [saga.contract],
      events: saga.all,
      logger: silentLogger,
      metricsRegistry: new Registry(),
      delivery: 'at-least-once',
      // One attempt, short: the late saga's attempt times out while its transaction is still open.
      retry: { attempts: 1, initialDelayMs: 10, maxDelayMs: 10 },
      handlerTimeoutMs: 300,
      outbox,
      relay: { pollIntervalMs: 100 },
      handlers: [
        step<OrderPlaced, PaymentCharged, PaymentDeclined>({
          name: 'payment',
          on: e.OrderPlaced,
          completed: e.PaymentCharged,
          failed: e.PaymentDeclined,
          handle: async ({ payload, ctx }) => {
            if (payload.orderId === failing) throw new Error('the card was refused');
            await ctx.tx.query(`INSERT INTO ${effects} (saga_id) VALUES ($1)`, [ctx.sagaId]);
            await gate;
            return ctx.complete({ orderId: payload.orderId, chargeId: `ch-${payload.orderId}` });
          },
          onGiveUp: ({ payload, error }) => ({ orderId: payload.orderId, reason: String(error) }),
        }),
      ],
    });
    cleanup.push(() => payment.close());

    await harness.publish(e.OrderPlaced, { orderId: late, amount: 1 }, { sagaId: late });
    // The give-up writes its failure through the outbox, behind the inbox row: it waits on the row
    // the timed-out attempt inserted and still holds.
    await waitFor(
      async () => {
        const res = await db.query<{ n: string }>(
          "SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND starts_with(query, $1)",
          [`INSERT INTO ${schema}.inbox`],
        );
        return Number(res.rows[0]?.n ?? 0) > 0;
      },
      { description: 'the give-up waiting on the late attempt’s inbox row', timeoutMs: 60_000 },
    );
    release();
    await harness.waitForEvents(late, [e.PaymentCharged], 60_000);
    // The give-up is over once the event's offset is committed (at-least-once: outputs first).
    await waitFor(async () => [...(await transport.committedOffsets(groupId, e.OrderPlaced.topic)).values()].some((o) => o !== '0'), {
      description: 'the late event committed',
      timeoutMs: 60_000,
    });

    await harness.publish(e.OrderPlaced, { orderId: failing, amount: 2 }, { sagaId: failing });
    await harness.waitForEvents(failing, [e.PaymentDeclined], 60_000);
    await harness.waitFor(
      () => Promise.resolve(harness.deadLetters().some((m) => headerString(m.headers, 'ce_sagaid') === failing) ? true : undefined),
      'the failing saga’s dead letter',
      60_000,
    );
    await harness.settle(60_000);

    const types = async (sagaId: string): Promise<string[]> => (await harness.events({ sagaId })).map((x) => x.envelope.type);
    expect(await types(late)).toEqual([e.OrderPlaced.name, e.PaymentCharged.name]);
    expect(await types(failing)).toEqual([e.OrderPlaced.name, e.PaymentDeclined.name]);
    const dead = harness.deadLetters().map((m) => [headerString(m.headers, 'ce_sagaid'), headerString(m.headers, DLQ_HEADER.reason)]);
    expect(dead).toEqual([[failing, 'HANDLER_FAILED']]);
    const rows = await db.query<{ saga_id: string }>(`SELECT saga_id FROM ${effects}`);
    expect(rows.rows.map((r) => r.saga_id)).toEqual([late]);
    const duplicates = await payment.metrics.getSingleMetricAsString('troupe_duplicates_total');
    expect(duplicates).toContain(`type="${e.OrderPlaced.name}"} 1`);
  }, 240_000);
});
