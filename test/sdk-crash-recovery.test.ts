import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { MemorySchemaRegistry } from '@troupe/schema-registry';
import { KafkaTransport } from '@troupe/sdk';
import { kafkaBrokers, SagaHarness, uniqueName } from '@troupe/testing';
import { orderSaga, registerAll, type OrderSaga } from '../packages/sdk/src/participant/order-saga.fixture.js';
import { startChildParticipant, type ChildParticipant } from './fixtures/sdk-child-process.js';
import { silentLogger } from './fixtures/sdk-kafka.js';

const PG_URL = process.env['TROUPE_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const SAGAS = 240;

describe('participant process crash and shutdown on a real broker', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
  });

  async function setup(prefix: string) {
    const suffix = uniqueName(prefix);
    const saga = orderSaga(suffix);
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
    const ids = Array.from({ length: SAGAS }, (_, i) => `${prefix}-${i}`);
    return { saga, harness, start, ids };
  }

  async function publishAll(harness: SagaHarness, saga: OrderSaga, ids: readonly string[]): Promise<void> {
    for (let i = 0; i < ids.length; i += 40) {
      await Promise.all(
        ids.slice(i, i + 40).map((id) => harness.publish(saga.events.OrderPlaced, { orderId: id, amount: 1 }, { sagaId: id })),
      );
    }
  }

  const allShipped = (harness: SagaHarness, saga: OrderSaga, n: number) =>
    harness.waitFor(
      async () => ((await harness.events({ type: saga.events.ShipmentScheduled })).length >= n ? true : undefined),
      `${n} ShipmentScheduled`,
      180_000,
    );

  async function expectEachEventOnce(harness: SagaHarness, saga: OrderSaga, ids: readonly string[]): Promise<void> {
    const e = saga.events;
    const expected = [e.OrderPlaced, e.PaymentCharged, e.InventoryReserved, e.ShipmentScheduled].map((t) => t.name).sort();
    const events = await harness.events();
    const bySaga = new Map<string, string[]>();
    for (const ev of events) bySaga.set(ev.envelope.sagaId, [...(bySaga.get(ev.envelope.sagaId) ?? []), ev.envelope.type]);
    const wrong = ids.filter((id) => JSON.stringify((bySaga.get(id) ?? []).sort()) !== JSON.stringify(expected));
    expect(wrong.map((id) => [id, bySaga.get(id)])).toEqual([]);
    expect(events).toHaveLength(ids.length * 4);
    expect(harness.deadLetters()).toHaveLength(0);
  }

  const effectLines = (children: ChildParticipant[]) => children.flatMap((c) => c.lines.filter((l) => l.startsWith('EFFECT ')));

  it('SIGKILL in the middle of batches, restart: no emitted event lost or duplicated across 240 sagas', async () => {
    const { saga, harness, start, ids } = await setup('sdk-kill');
    const first = start({ STALL_AT: '150' });
    await first.waitForLine((l) => l === 'READY', 'READY');
    await publishAll(harness, saga, ids);
    await first.waitForLine((_, all) => all.filter((l) => l.startsWith('EFFECT ')).length >= 150, '150 handled steps');
    first.process.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');

    const second = start();
    await second.waitForLine((l) => l === 'READY', 'READY after restart');
    await allShipped(harness, saga, ids.length);
    second.process.kill('SIGTERM');
    expect((await second.exited).code).toBe(0);
    await harness.settle(60_000);

    await expectEachEventOnce(harness, saga, ids);
    // The kill did hit uncommitted work: some steps were handled again after the restart...
    const effects = effectLines([first, second]);
    expect(effects.length).toBeGreaterThan(new Set(effects).size);
    // ...yet every order was charged, and a charge repeats only if the kill fell between the side
    // effect and its record in PostgreSQL: at most one per payment in flight — 3 partitions handled
    // at once (the child's concurrency), each with up to 8 sagas side by side (sagaConcurrency).
    const charges = [first, second].flatMap((c) => c.lines.filter((l) => l.startsWith('CHARGE ')));
    expect(new Set(charges).size).toBe(ids.length);
    expect(charges.length - new Set(charges).size).toBeLessThanOrEqual(3 * 8);
  });

  it('SIGKILL while the queues are full (fetching paused at the bound), restart: exactly-once, nothing lost or duplicated', async () => {
    const { saga, harness, start, ids } = await setup('sdk-full');
    // Slow steps and a 20-record bound per topic-partition: the backlog fills the queues.
    const first = start({ HANDLER_DELAY_MS: '200', MAX_QUEUED_RECORDS: '20', REPORT_QUEUES: '1' });
    await first.waitForLine((l) => l === 'READY', 'READY');
    await publishAll(harness, saga, ids);
    await first.waitForLine((l) => Number(/^QUEUED (\d+)$/.exec(l)?.[1] ?? 0) >= 50, '50 records queued');
    const queued = Math.max(...first.lines.map((l) => Number(/^QUEUED (\d+)$/.exec(l)?.[1] ?? 0)));
    first.process.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');
    const handledBeforeKill = effectLines([first]).length;

    const second = start();
    await second.waitForLine((l) => l === 'READY', 'READY after restart');
    await allShipped(harness, saga, ids.length);
    second.process.kill('SIGTERM');
    expect((await second.exited).code).toBe(0);
    await harness.settle(60_000);

    await expectEachEventOnce(harness, saga, ids);
    const events = await harness.events();
    expect(new Set(events.map((e) => e.envelope.id)).size).toBe(events.length);
    console.log(
      `[full-queues] killed with up to ${queued} records queued and ${handledBeforeKill} steps handled; after the restart ${events.length} events, each once`,
    );
  });

  it('SIGTERM under load, restart: nothing is handled twice', async () => {
    const { saga, harness, start, ids } = await setup('sdk-term');
    const first = start();
    await first.waitForLine((l) => l === 'READY', 'READY');
    await publishAll(harness, saga, ids);
    await first.waitForLine((_, all) => all.filter((l) => l.startsWith('EFFECT ')).length >= 200, '200 handled steps');
    first.process.kill('SIGTERM');
    expect((await first.exited).code).toBe(0);
    const handledBefore = effectLines([first]).length;
    expect(handledBefore).toBeLessThan(ids.length * 3);

    const second = start();
    await second.waitForLine((l) => l === 'READY', 'READY after restart');
    await allShipped(harness, saga, ids.length);
    second.process.kill('SIGTERM');
    expect((await second.exited).code).toBe(0);
    await harness.settle(60_000);

    await expectEachEventOnce(harness, saga, ids);
    const effects = effectLines([first, second]);
    expect(effects).toHaveLength(ids.length * 3);
    expect(new Set(effects).size).toBe(ids.length * 3);
  });
});
