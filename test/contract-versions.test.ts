// Two versions of one saga contract in flight at once, on a real broker: version 1 (payment,
// inventory, shipping) and version 2 (no shipping). The initiator stamps the version on each saga;
// upgraded participants serve both and follow each saga's version; the tracker projects each saga
// with the contract it started with. Counted by ce_id among read_committed records.
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SagaContract } from '@troupe/core';
import { SagaTracker } from '@troupe/saga-tracker';
import type { KafkaTransport, Participant } from '@troupe/sdk';
import type { EventCodec } from '@troupe/schema-registry';
import { SagaHarness, kafkaBrokers, waitFor } from '@troupe/testing';
import { startSagaServices, type Ledger, type OrderSaga } from '../packages/sdk/src/participant/order-saga.fixture.js';
import { sagaOnKafka, silentLogger } from './fixtures/sdk-kafka.js';

describe('two contract versions side by side with sagas in flight', () => {
  let transport: KafkaTransport;
  let codec: EventCodec;
  let saga: OrderSaga;
  let ledger: Ledger;
  let v1: SagaContract;
  let v2: SagaContract;
  let services: Participant[] = [];
  let harness: SagaHarness;
  let tracker: SagaTracker | undefined;
  const oldSagas = Array.from({ length: 6 }, (_, i) => `v1-${i}`);
  const newSagas = Array.from({ length: 6 }, (_, i) => `v2-${i}`);
  const newFailing = ['v2-fail-inventory-0', 'v2-fail-inventory-1'];

  beforeAll(async () => {
    ({ transport, codec, saga, ledger } = await sagaOnKafka('versions'));
    v1 = saga.contract;
    v2 = { ...saga.contract, version: 2, steps: saga.contract.steps.filter((s) => s.name !== 'shipping') };
    harness = await SagaHarness.create({ transport, codec, events: saga.all, contracts: [v1, v2] });
    const e = saga.events;
    // In flight before any participant runs: sagas an old initiator started at version 1, and
    // sagas the upgraded initiator starts at the newest version (2, the default).
    for (const id of oldSagas) await harness.publish(e.OrderPlaced, { orderId: id, amount: 10 }, { sagaId: id, sagaVersion: 1 });
    for (const id of [...newSagas, ...newFailing]) await harness.publish(e.OrderPlaced, { orderId: id, amount: 10 }, { sagaId: id });
    services = await startSagaServices({ transport, codec, saga, ledger, logger: silentLogger, overrides: { contracts: [v1, v2] } });
    await Promise.all([
      ...oldSagas.map((id) => harness.waitForEvents(id, [e.ShipmentScheduled], 60_000)),
      ...newSagas.map((id) => harness.waitForEvents(id, [e.InventoryReserved], 60_000)),
      ...newFailing.map((id) => harness.waitForEvents(id, [e.PaymentRefunded], 60_000)),
    ]);
    await Promise.all(services.map((s) => s.close()));
    await harness.settle(30_000);
  });
  afterAll(async () => {
    await Promise.all(services.map((s) => s.close()));
    await tracker?.close();
    await harness?.close();
    await transport?.close();
  });

  it('stamps each saga with its version on every event, and participants follow it: shipping runs for version 1 only', async () => {
    for (const id of [...oldSagas, ...newSagas, ...newFailing]) {
      const evs = await harness.events({ sagaId: id });
      expect(new Set(evs.map((x) => x.headers['ce_sagaversion']?.toString())), id).toEqual(new Set([id.startsWith('v1') ? '1' : '2']));
      expect(new Set(evs.map((x) => x.envelope.id)).size, `${id}: each event once by ce_id`).toBe(evs.length);
    }
    // Version 2 has no shipping step: the shipping service let those sagas pass.
    expect([...ledger.shipments].sort()).toEqual([...oldSagas].sort());
    for (const id of newSagas) {
      expect((await harness.events({ sagaId: id })).map((x) => x.envelope.type).sort(), id).toEqual(
        [saga.events.OrderPlaced, saga.events.PaymentCharged, saga.events.InventoryReserved].map((t) => t.name).sort(),
      );
    }
    // Compensation follows the version too: a version-2 saga whose inventory failed is refunded once.
    expect(ledger.refunds.filter((r) => newFailing.some((id) => r.endsWith(id))).sort()).toEqual(newFailing.map((id) => `ch-${id}`).sort());
  });

  it('projects each saga in the tracker with the contract version it started with', async () => {
    const t = await SagaTracker.create({
      brokers: kafkaBrokers(),
      topics: [...new Set(saga.all.map((t) => t.topic))],
      contracts: [v1, v2],
      port: 0,
      logger: pino({ level: 'silent' }),
    });
    tracker = t;
    const all = [...oldSagas, ...newSagas, ...newFailing];
    await waitFor(async () => (await Promise.all(all.map((id) => t.store.get(id)))).every((d) => d !== undefined), {
      description: 'the tracker to see every saga',
      timeoutMs: 60_000,
    });
    for (const id of oldSagas) {
      // Every event read (the topics are read side by side: one may lag another).
      await waitFor(async () => (await t.store.get(id))?.projection.eventCount === 4, {
        description: `${id} complete in the tracker`,
        timeoutMs: 30_000,
      });
      const p = (await t.store.get(id))?.projection;
      expect([p?.sagaVersion, p?.hasContract, p?.steps.map((s) => s.name), p?.deviations]).toEqual([
        1,
        true,
        ['payment', 'inventory', 'shipping'],
        [],
      ]);
    }
    for (const id of newSagas) {
      await waitFor(async () => (await t.store.get(id))?.projection.eventCount === 3, {
        description: `${id} complete in the tracker`,
        timeoutMs: 30_000,
      });
      const p = (await t.store.get(id))?.projection;
      // Version 2 awaits no shipping: inventory was its last step, the initiator's end event is next.
      expect([p?.sagaVersion, p?.hasContract, p?.steps.map((s) => s.name), p?.awaiting.map((a) => a.events), p?.deviations]).toEqual([
        2,
        true,
        ['payment', 'inventory'],
        [[v2.end.completed]],
        [],
      ]);
    }
  });
});
