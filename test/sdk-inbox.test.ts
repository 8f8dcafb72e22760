import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { headerString } from '@troupe/core';
import { MemorySchemaRegistry } from '@troupe/schema-registry';
import { DLQ_HEADER, KafkaTransport, type InboundMessage, type OutboundRecord } from '@troupe/sdk';
import { kafkaBrokers, SagaHarness, uniqueName, type RecordedEvent } from '@troupe/testing';
import { orderSaga, registerAll, startSagaServices, type OrderSaga } from '../packages/sdk/src/participant/order-saga.fixture.js';
import { startChildParticipant, type ChildParticipant } from './fixtures/sdk-child-process.js';
import { sagaOnKafka, silentLogger } from './fixtures/sdk-kafka.js';

const PG_URL = process.env['TROUPE_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

/** The record again, as a producer's retry or an operator's re-send appends it (same ce_id). */
function again(m: InboundMessage, changes: Partial<OutboundRecord> = {}): OutboundRecord {
  const headers: Record<string, string | Buffer> = {};
  for (const [k, v] of Object.entries(m.headers)) {
    const first = Array.isArray(v) ? v[0] : v;
    if (first !== undefined) headers[k] = first;
  }
  return { topic: m.topic, key: m.key, value: m.value, headers, ...changes };
}

/** The raw committed record behind a recorded event. */
async function rawOf(transport: KafkaTransport, ev: RecordedEvent): Promise<InboundMessage> {
  const [m] = await transport.readPartition(ev.topic, ev.partition, ev.offset);
  if (!m || m.offset !== ev.offset) throw new Error(`record ${ev.topic}/${ev.partition}/${ev.offset} not found`);
  return m;
}

/** Per saga: how many distinct ce_ids of each type are among the read_committed records, and how many records. */
function tally(events: readonly RecordedEvent[]): Map<string, Map<string, { ids: Set<string>; records: number }>> {
  const out = new Map<string, Map<string, { ids: Set<string>; records: number }>>();
  for (const e of events) {
    const bySaga = out.get(e.envelope.sagaId) ?? new Map<string, { ids: Set<string>; records: number }>();
    const t = bySaga.get(e.envelope.type) ?? { ids: new Set<string>(), records: 0 };
    t.ids.add(e.envelope.id);
    t.records += 1;
    bySaga.set(e.envelope.type, t);
    out.set(e.envelope.sagaId, bySaga);
  }
  return out;
}

describe('inbox and boundary checks on a real broker', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
  });

  async function inProcess(prefix: string) {
    const { suffix, transport, codec, saga, ledger } = await sagaOnKafka(prefix);
    cleanup.push(() => transport.close());
    await registerAll(codec as MemorySchemaRegistry, saga);
    const services = await startSagaServices({ transport, codec, saga, ledger, logger: silentLogger, groupSuffix: suffix });
    cleanup.push(() => Promise.all(services.map((s) => s.close())));
    const harness = await SagaHarness.create({ transport, codec, events: saga.all, contracts: [saga.contract] });
    cleanup.push(() => harness.close());
    return { transport, saga, ledger, services, harness };
  }

  it('the same OrderPlaced (same ce_id) published 5 times gives one of each downstream event', async () => {
    const { transport, saga, ledger, services, harness } = await inProcess('inbox-5x');
    const e = saga.events;
    const placed = await harness.publish(e.OrderPlaced, { orderId: 'dup-1', amount: 7 }, { sagaId: 'dup-1' });
    const [first] = await harness.waitForEvents('dup-1', [e.OrderPlaced], 60_000);
    if (!first) throw new Error('OrderPlaced not recorded');
    const raw = await rawOf(transport, first);
    await transport.send([1, 2, 3, 4].map(() => again(raw)));
    await harness.publish(e.OrderPlaced, { orderId: 'after-1', amount: 7 }, { sagaId: 'after-1' });
    await harness.waitForEvents('after-1', [e.ShipmentScheduled], 60_000);
    await harness.waitFor(
      async () => ((await harness.events({ sagaId: 'dup-1', type: e.OrderPlaced })).length >= 5 ? true : undefined),
      'the 5 copies recorded',
      60_000,
    );
    await Promise.all(services.map((s) => s.close()));
    await harness.settle(30_000);

    const counts = tally(await harness.events({ sagaId: 'dup-1' })).get('dup-1');
    expect(counts?.get(e.OrderPlaced.name)).toEqual({ ids: new Set([placed.id]), records: 5 });
    for (const t of [e.PaymentCharged, e.InventoryReserved, e.ShipmentScheduled]) expect(counts?.get(t.name)?.records, t.name).toBe(1);
    expect(ledger.charges.filter((c) => c === 'dup-1')).toEqual(['dup-1']);
    const metric = await services[0]?.metrics.getSingleMetric('troupe_duplicates_total')?.get();
    expect(metric?.values.find((v) => v.labels['participant'] === 'payment-service')?.value).toBe(4);
  });

  it('dead-letters a null or empty key, a key that is not ce_sagaid, a missing ce_* header and a misplaced type, each with its reason; later events flow', async () => {
    const { transport, saga, ledger, harness } = await inProcess('inbox-boundary');
    const e = saga.events;
    await harness.publish(e.OrderPlaced, { orderId: 'b-0', amount: 1 }, { sagaId: 'b-0' });
    const evs = await harness.waitForEvents('b-0', [e.PaymentCharged], 60_000);
    const placed = evs.find((x) => x.envelope.type === e.OrderPlaced.name);
    const charged = evs.find((x) => x.envelope.type === e.PaymentCharged.name);
    if (!placed || !charged) throw new Error('b-0 events missing');
    const base = await rawOf(transport, placed);
    const h = again(base).headers;
    const { ce_sagatype: _dropped, ...withoutSagaType } = h;
    await transport.send([
      again(base, { key: null, headers: { ...h, ce_id: 'null-key' }, partition: base.partition }),
      again(base, { key: '', headers: { ...h, ce_id: 'empty-key' }, partition: base.partition }),
      again(base, { key: 'b-9', headers: { ...h, ce_id: 'mismatch' } }),
      again(base, { headers: { ...withoutSagaType, ce_id: 'no-sagatype' } }),
      // PaymentCharged belongs on the payments topic; here it arrives on the orders topic.
      again(await rawOf(transport, charged), {
        topic: base.topic,
        headers: { ...again(await rawOf(transport, charged)).headers, ce_id: 'misplaced' },
      }),
    ]);
    await harness.publish(e.OrderPlaced, { orderId: 'b-1', amount: 1 }, { sagaId: 'b-1' });
    await harness.waitForEvents('b-1', [e.ShipmentScheduled], 60_000);
    await harness.waitFor(() => Promise.resolve(harness.deadLetters().length >= 5 ? true : undefined), '5 dead letters', 60_000);
    const reasons: Record<string, [string | undefined, string]> = {};
    for (const m of harness.deadLetters())
      reasons[headerString(m.headers, 'ce_id') ?? '?'] = [headerString(m.headers, DLQ_HEADER.reason), m.topic];
    const dlq = `${e.OrderPlaced.topic}.dlq`;
    expect(reasons).toEqual({
      'null-key': ['INVALID_KEY', dlq],
      'empty-key': ['INVALID_KEY', dlq],
      mismatch: ['SAGA_ID_MISMATCH', dlq],
      'no-sagatype': ['MISSING_HEADER', dlq],
      misplaced: ['UNEXPECTED_TYPE', dlq],
    });
    expect([...ledger.charges].sort()).toEqual(['b-0', 'b-1']);
  });

  it('across a rebalance (one of two instances SIGKILLed mid-run, duplicates injected meanwhile) each downstream event is committed once', async () => {
    const suffix = uniqueName('inbox-rebal');
    const saga: OrderSaga = orderSaga(suffix);
    const codec = new MemorySchemaRegistry();
    await registerAll(codec, saga);
    const transport = await KafkaTransport.create({ brokers: kafkaBrokers(), logger: silentLogger });
    cleanup.push(() => transport.close());
    const harness = await SagaHarness.create({ transport, codec, events: saga.all, contracts: [saga.contract], partitions: 3 });
    cleanup.push(() => harness.close());
    const table = `sdk_idem_${randomBytes(5).toString('hex')}`;
    const pool = new pg.Pool({ connectionString: PG_URL, max: 1 });
    cleanup.push(async () => {
      await pool.query(`DROP TABLE IF EXISTS ${table}`);
      await pool.end();
    });
    const env = { KAFKA_BROKERS: kafkaBrokers().join(','), SAGA_SUFFIX: suffix, PG_URL, PG_TABLE: table, GROUP_SUFFIX: suffix };
    const start = (extra: Record<string, string> = {}): ChildParticipant => {
      const child = startChildParticipant({ ...env, ...extra });
      cleanup.push(async () => {
        if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill('SIGKILL');
        await child.exited;
      });
      return child;
    };
    const e = saga.events;
    const ids = Array.from({ length: 120 }, (_, i) => `rb-${i}`);
    const doomed = start({ STALL_AT: '90' });
    const survivor = start();
    await Promise.all([doomed.waitForLine((l) => l === 'READY', 'READY'), survivor.waitForLine((l) => l === 'READY', 'READY')]);
    for (let i = 0; i < ids.length; i += 40) {
      await Promise.all(ids.slice(i, i + 40).map((id) => harness.publish(e.OrderPlaced, { orderId: id, amount: 1 }, { sagaId: id })));
    }
    await doomed.waitForLine((_, all) => all.filter((l) => l.startsWith('EFFECT ')).length >= 90, '90 handled steps');
    // Duplicates of every OrderPlaced and of every PaymentCharged committed so far, while the
    // doomed instance holds its partitions without committing; then it dies, and they move.
    const dupes = async (type: string): Promise<OutboundRecord[]> =>
      Promise.all((await harness.events({ type })).map(async (ev) => again(await rawOf(transport, ev))));
    await transport.send([...(await dupes(e.OrderPlaced.name)), ...(await dupes(e.PaymentCharged.name))]);
    doomed.process.kill('SIGKILL');
    expect((await doomed.exited).signal).toBe('SIGKILL');
    await transport.send([...(await dupes(e.OrderPlaced.name)).slice(0, 40), ...(await dupes(e.PaymentCharged.name)).slice(0, 40)]);
    await harness.waitFor(
      async () => ((await harness.events({ type: e.ShipmentScheduled })).length >= ids.length ? true : undefined),
      `${ids.length} ShipmentScheduled`,
      240_000,
    );
    survivor.process.kill('SIGTERM');
    expect((await survivor.exited).code).toBe(0);
    await harness.settle(60_000);

    const counts = tally(await harness.events());
    const wrong: unknown[] = [];
    for (const id of ids) {
      const c = counts.get(id);
      const one = (t: string) => c?.get(t)?.ids.size === 1;
      const exactlyOnce = (t: string) => c?.get(t)?.records === 1;
      if (
        !one(e.OrderPlaced.name) ||
        !one(e.PaymentCharged.name) ||
        !exactlyOnce(e.InventoryReserved.name) ||
        !exactlyOnce(e.ShipmentScheduled.name)
      ) {
        wrong.push([id, [...(c ?? new Map<string, { records: number }>())].map(([t, v]) => `${t}=${v.records}`)]);
      }
    }
    expect(wrong).toEqual([]);
    // The duplicates did reach the participants: PaymentCharged of some sagas is in the log twice (the injected copy).
    const injected = ids.filter((id) => (counts.get(id)?.get(e.PaymentCharged.name)?.records ?? 0) > 1);
    expect(injected.length).toBeGreaterThan(0);
    expect(harness.deadLetters()).toHaveLength(0);
  });
});
