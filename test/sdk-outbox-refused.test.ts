// Review finding 3 of issue 12: outbox rows the broker refuses for good (too large, invalid, not
// authorised) must not block the relay, and outputs must be size-checked before they are written.
import pg from 'pg';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { deadLetterTopicOf, headerString } from '@troupe/core';
import { readTopicToEnd } from '@troupe/kafka';
import { MemorySchemaRegistry } from '@troupe/schema-registry';
import { DLQ_HEADER, KafkaTransport, OutboxRelay, PostgresOutbox, Publisher, SdkError } from '@troupe/sdk';
import { kafkaBrokers, SagaHarness, uniqueName, waitFor } from '@troupe/testing';
import { newLedger, orderSaga, registerAll, startSagaServices } from '../packages/sdk/src/participant/order-saga.fixture.js';
import { expectHugeShippingRefused } from './fixtures/huge-shipping.js';
import { throwawaySchema } from './fixtures/pg-schema.js';
import { silentLogger } from './fixtures/sdk-kafka.js';

const PG_URL = process.env['TROUPE_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const HUGE = 2_000_000;

describe('PostgreSQL outbox: outputs the broker refuses (real broker, real PostgreSQL)', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
  });

  async function setup(prefix: string) {
    const schema = throwawaySchema('outbox', cleanup);
    const transport = await KafkaTransport.create({ brokers: kafkaBrokers(), logger: silentLogger, redeliveryDelayMs: 50 });
    cleanup.push(() => transport.close());
    const outbox = await PostgresOutbox.create({ connectionString: PG_URL, schema, poolSize: 16 });
    cleanup.push(() => outbox.close());
    return { suffix: uniqueName(prefix), schema, transport, outbox };
  }

  it('a row the broker refuses is marked failed, dead-lettered and reported; the rows behind it, its saga’s too, are published in order', async () => {
    const { suffix, schema, transport, outbox } = await setup('outbox-refused-row');
    const topic = suffix;
    const dlq = deadLetterTopicOf(topic);
    await transport.ensureTopics([
      { topic, partitions: 2, replicationFactor: 1 },
      { topic: dlq, partitions: 2, replicationFactor: 1 },
    ]);
    const metricsRegistry = new Registry();
    const relay = await OutboxRelay.create({ outbox, transport, pollIntervalMs: 100, logger: silentLogger, metricsRegistry });
    cleanup.push(() => relay.close());
    const row = (sagaId: string, id: string, bytes = 10) => ({
      topic,
      key: sagaId,
      value: Buffer.alloc(bytes, 'x'),
      headers: { ce_id: id, ce_type: 'test.Refused', ce_sagaid: sagaId },
    });
    // Each in its own transaction, in this order; a2 is larger than the broker takes.
    for (const r of [row('A', 'a1'), row('A', 'a2', HUGE), row('A', 'a3'), row('B', 'b1'), row('B', 'b2')]) {
      await outbox.transaction((tx) => outbox.append(tx, [r]));
    }
    const ids = async (): Promise<string[]> =>
      (await readTopicToEnd(transport.kafka, topic)).map((m) => headerString(m.headers, 'ce_id') ?? '');
    await waitFor(async () => (await ids()).length >= 4, { description: 'the four rows the broker takes', timeoutMs: 60_000 });
    const published = await ids();
    expect(published.filter((id) => id.startsWith('a'))).toEqual(['a1', 'a3']);
    expect(published.filter((id) => id.startsWith('b'))).toEqual(['b1', 'b2']);

    const dead = await readTopicToEnd(transport.kafka, dlq);
    expect(
      dead.map((m) => [headerString(m.headers, 'ce_id'), headerString(m.headers, 'ce_sagaid'), headerString(m.headers, DLQ_HEADER.reason)]),
    ).toEqual([['a2', 'A', 'OUTPUT_REFUSED']]);
    expect(headerString(dead[0]?.headers, DLQ_HEADER.error)).toContain('MESSAGE_TOO_LARGE');
    expect(headerString(dead[0]?.headers, DLQ_HEADER.offset)).toMatch(/^outbox:\d+$/);
    // The value is what the broker refused, so the dead letter carries the headers only.
    expect(dead[0]?.value).toBeNull();

    const db = new pg.Client({ connectionString: PG_URL });
    await db.connect();
    const marked = await db.query<{ event_id: string; failure: string }>(
      `SELECT event_id, failure FROM ${schema}.outbox WHERE failed_at IS NOT NULL AND published_at IS NULL`,
    );
    await db.end();
    expect(marked.rows.map((r) => r.event_id)).toEqual(['a2']);
    expect(marked.rows[0]?.failure).toContain('MESSAGE_TOO_LARGE');
    expect(await outbox.backlog()).toEqual({ pending: 0, oldestAgeMs: 0 });
    expect(await outbox.refused()).toEqual({ count: 1, latest: marked.rows[0]?.failure });
    const health = await relay.health();
    expect(health.ready).toBe(true);
    expect(health.details['refused']).toContain('1 row(s) the broker refused for good');
    expect(await metricsRegistry.getSingleMetricAsString('troupe_outbox_refused_total')).toContain(`{outbox="${schema}"} 1`);

    // The relay is not stuck on the saga: its next event goes out.
    await outbox.transaction((tx) => outbox.append(tx, [row('A', 'a4')]));
    await waitFor(async () => (await ids()).includes('a4'), { description: 'a4 published', timeoutMs: 60_000 });
    expect((await ids()).filter((id) => id.startsWith('a'))).toEqual(['a1', 'a3', 'a4']);
  }, 180_000);

  it('publish({ tx }) refuses an event larger than its topic’s max.message.bytes with OUTPUT_REFUSED; nothing is written', async () => {
    const { suffix, transport, outbox } = await setup('outbox-refused-publish');
    const saga = orderSaga(suffix);
    const codec = new MemorySchemaRegistry();
    await registerAll(codec, saga);
    const publisher = await Publisher.create({ transport, codec, source: 'order-service', contracts: [saga.contract], outbox });
    const err = await outbox
      .transaction((tx) => publisher.publish(saga.events.OrderPlaced, { orderId: 'x'.repeat(HUGE), amount: 1 }, { sagaId: 'big', tx }))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SdkError);
    expect((err as SdkError).code).toBe('OUTPUT_REFUSED');
    expect((err as SdkError).message).toContain('max.message.bytes');
    expect(await outbox.backlog()).toEqual({ pending: 0, oldestAgeMs: 0 });
  }, 120_000);

  it('a step output larger than its topic takes: refused in the handler transaction (rolled back), the step fails with the reason, its partition flows', async () => {
    const { suffix, transport, outbox } = await setup('outbox-refused-step');
    const saga = orderSaga(suffix);
    const codec = new MemorySchemaRegistry();
    await registerAll(codec, saga);
    const services = await startSagaServices({
      transport,
      codec,
      saga,
      ledger: newLedger(),
      logger: silentLogger,
      groupSuffix: suffix,
      overrides: { outbox, delivery: 'at-least-once', relay: { pollIntervalMs: 100 }, maxBatchSize: 10 },
    });
    cleanup.push(() => Promise.all(services.map((s) => s.close())));
    const harness = await SagaHarness.create({ transport, codec, events: saga.all, contracts: [saga.contract] });
    cleanup.push(() => harness.close());
    await expectHugeShippingRefused(harness, saga);
    // Refused before it was written: no row for the relay to trip over.
    expect(await outbox.refused()).toEqual({ count: 0, latest: undefined });
    expect((await services[2]?.health())?.ready).toBe(true);
  }, 240_000);
});
