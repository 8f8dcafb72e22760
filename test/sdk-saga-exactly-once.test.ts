import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SagaHarness, type RecordedEvent } from '@troupe/testing';
import type { KafkaTransport, Participant } from '@troupe/sdk';
import type { EventCodec } from '@troupe/schema-registry';
import { startSagaServices, type Ledger, type OrderSaga } from '../packages/sdk/src/participant/order-saga.fixture.js';
import { sagaOnKafka, silentLogger } from './fixtures/sdk-kafka.js';

const traceId = (e: RecordedEvent): string | undefined => e.envelope.traceparent?.split('-')[1];

describe('3-participant saga on a real broker and registry, exactly-once', () => {
  let transport: KafkaTransport;
  let codec: EventCodec;
  let saga: OrderSaga;
  let ledger: Ledger;
  let services: Participant[] = [];
  let harness: SagaHarness;

  const happy = Array.from({ length: 12 }, (_, i) => `ok-${i}`);
  const failShipping = Array.from({ length: 6 }, (_, i) => `fail-shipping-${i}`);
  const failInventory = Array.from({ length: 6 }, (_, i) => `fail-inventory-${i}`);

  beforeAll(async () => {
    // Payloads go through the real Confluent-compatible registry of the test run.
    ({ transport, codec, saga, ledger } = await sagaOnKafka('sdk-eos', 'registry'));
    services = await startSagaServices({ transport, codec, saga, ledger, logger: silentLogger, overrides: { maxBatchSize: 5 } });
    harness = await SagaHarness.create({ transport, codec, events: saga.all, contracts: [saga.contract] });
    const e = saga.events;
    await Promise.all(
      [...happy, ...failShipping, ...failInventory].map((id) =>
        harness.publish(e.OrderPlaced, { orderId: id, amount: 10 }, { sagaId: id }),
      ),
    );
    await Promise.all([
      ...happy.map((id) => harness.waitForEvents(id, [e.ShipmentScheduled], 60_000)),
      ...failShipping.map((id) => harness.waitForEvents(id, [e.PaymentRefunded, e.InventoryReleased], 60_000)),
      ...failInventory.map((id) => harness.waitForEvents(id, [e.PaymentRefunded], 60_000)),
    ]);
    // Stop the services, then read everything committed: counts are exact from here on.
    await Promise.all(services.map((s) => s.close()));
    await harness.settle(30_000);
  });

  afterAll(async () => {
    await Promise.all(services.map((s) => s.close()));
    await harness?.close();
    await transport?.close();
  });

  it('happy path: every expected event exactly once, causation chain, key, partition and trace kept', async () => {
    const e = saga.events;
    for (const id of happy) {
      const evs = await harness.events({ sagaId: id });
      expect(evs.map((x) => x.envelope.type).sort(), id).toEqual(
        [e.OrderPlaced, e.PaymentCharged, e.InventoryReserved, e.ShipmentScheduled].map((t) => t.name).sort(),
      );
      const by = (name: string) => evs.find((x) => x.envelope.type === name);
      const placed = by(e.OrderPlaced.name);
      const charged = by(e.PaymentCharged.name);
      const reserved = by(e.InventoryReserved.name);
      const shipped = by(e.ShipmentScheduled.name);
      expect(charged?.envelope).toMatchObject({
        causationId: placed?.envelope.id,
        source: 'payment-service',
        sagaRole: 'step-completed',
        sagaStep: 'payment',
        sagaType: 'order-fulfillment',
      });
      expect(reserved?.envelope).toMatchObject({ causationId: charged?.envelope.id, source: 'inventory-service', sagaStep: 'inventory' });
      expect(shipped?.envelope).toMatchObject({ causationId: reserved?.envelope.id, source: 'shipping-service', sagaStep: 'shipping' });
      expect(shipped?.payload).toEqual({ orderId: id, trackingId: `trk-${id}` });
      expect(new Set(evs.map((x) => x.key))).toEqual(new Set([id]));
      expect(new Set(evs.map((x) => x.partition)).size).toBe(1);
      expect(new Set(evs.map(traceId)).size).toBe(1);
      expect(evs.every((x) => x.headers['ce_specversion']?.toString() === '1.0')).toBe(true);
    }
    expect([...ledger.shipments].sort()).toEqual([...happy].sort());
  });

  it('compensation path: the failure event once, each earlier step compensated once with its log', async () => {
    const e = saga.events;
    for (const id of failShipping) {
      const evs = await harness.events({ sagaId: id });
      const types = evs.map((x) => x.envelope.type).sort();
      expect(types, id).toEqual(
        [e.OrderPlaced, e.PaymentCharged, e.InventoryReserved, e.ShipmentFailed, e.PaymentRefunded, e.InventoryReleased]
          .map((t) => t.name)
          .sort(),
      );
      const failed = evs.find((x) => x.envelope.type === e.ShipmentFailed.name);
      expect(failed?.envelope.sagaRole).toBe('step-failed');
      for (const name of [e.PaymentRefunded.name, e.InventoryReleased.name]) {
        expect(evs.find((x) => x.envelope.type === name)?.envelope).toMatchObject({
          sagaRole: 'compensated',
          causationId: failed?.envelope.id,
        });
      }
      expect(evs.find((x) => x.envelope.type === e.PaymentRefunded.name)?.payload).toEqual({ orderId: id, chargeId: `ch-${id}` });
    }
    for (const id of failInventory) {
      const types = (await harness.events({ sagaId: id })).map((x) => x.envelope.type).sort();
      expect(types, id).toEqual([e.OrderPlaced, e.PaymentCharged, e.ReservationFailed, e.PaymentRefunded].map((t) => t.name).sort());
    }
    expect([...ledger.refunds].sort()).toEqual([...failShipping, ...failInventory].map((id) => `ch-${id}`).sort());
    expect([...ledger.releases].sort()).toEqual(failShipping.map((id) => `res-${id}`).sort());
    expect(harness.deadLetters()).toHaveLength(0);
  });
});
