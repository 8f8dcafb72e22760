import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SagaHarness, type RecordedEvent } from '@troupe/testing';
import type { KafkaTransport, Participant } from '@troupe/sdk';
import type { EventCodec } from '@troupe/schema-registry';
import { startSagaServices, type Ledger, type OrderSaga } from '../packages/sdk/src/participant/order-saga.fixture.js';
import { sagaOnKafka, silentLogger } from './fixtures/sdk-kafka.js';

/** Types of a saga's committed events, one entry per distinct ce_id (a redelivered copy is one event). */
const distinctTypes = (events: readonly RecordedEvent[]): string[] =>
  [...new Map(events.map((x) => [x.envelope.id, x.envelope.type.replace('test.sdk.', '')])).values()].sort();

describe('parallel saga (payment ∥ inventory, then shipping) on a real broker, exactly-once', () => {
  let transport: KafkaTransport;
  let codec: EventCodec;
  let saga: OrderSaga;
  let ledger: Ledger;
  let services: Participant[] = [];
  let harness: SagaHarness;

  const happy = Array.from({ length: 6 }, (_, i) => `ok-${i}`);
  const failShipping = Array.from({ length: 4 }, (_, i) => `fail-shipping-${i}`);
  const failInventory = Array.from({ length: 4 }, (_, i) => `fail-inventory-${i}`);

  beforeAll(async () => {
    ({ transport, codec, saga, ledger } = await sagaOnKafka('sdk-par', 'memory', 'parallel'));
    // Inventory fails only once payment has charged, so there is always a completed sibling to undo.
    const charged = async (orderId: string): Promise<void> => {
      while (!ledger.charges.includes(orderId)) await new Promise((r) => setTimeout(r, 20));
    };
    services = await startSagaServices({
      transport,
      codec,
      saga,
      ledger,
      logger: silentLogger,
      overrides: { maxBatchSize: 5 },
      hooks: { beforeFailure: (_step, orderId) => charged(orderId) },
    });
    harness = await SagaHarness.create({ transport, codec, events: saga.all, contracts: [saga.contract] });
    const e = saga.events;
    await Promise.all(
      [...happy, ...failShipping, ...failInventory].map((id) =>
        harness.publish(e.OrderPlaced, { orderId: id, amount: 10 }, { sagaId: id }),
      ),
    );
    await Promise.all([
      ...happy.map((id) => harness.waitForEvents(id, [e.ShipmentScheduled], 90_000)),
      ...failShipping.map((id) => harness.waitForEvents(id, [e.PaymentRefunded, e.InventoryReleased], 90_000)),
      ...failInventory.map((id) => harness.waitForEvents(id, [e.PaymentRefunded], 90_000)),
    ]);
    // Stop the services, then read everything committed (read_committed): counts are exact from here on.
    await Promise.all(services.map((s) => s.close()));
    await harness.settle(30_000);
  }, 180_000);

  afterAll(async () => {
    await Promise.all(services.map((s) => s.close()));
    await harness?.close();
    await transport?.close();
  });

  it('runs both branches on the start event and the step after the group once, after both', async () => {
    const e = saga.events;
    for (const id of happy) {
      const evs = await harness.events({ sagaId: id });
      expect(distinctTypes(evs), id).toEqual(['InventoryReserved', 'OrderPlaced', 'PaymentCharged', 'ShipmentScheduled']);
      const placed = evs.find((x) => x.envelope.type === e.OrderPlaced.name);
      for (const t of [e.PaymentCharged, e.InventoryReserved]) {
        expect(evs.find((x) => x.envelope.type === t.name)?.envelope.causationId, `${id} ${t.name}`).toBe(placed?.envelope.id);
      }
    }
    expect([...ledger.shipments].sort()).toEqual([...happy].sort());
  });

  it('compensates across branches: a sibling’s failure undoes the completed branch once, with its log', async () => {
    for (const id of failInventory) {
      const evs = await harness.events({ sagaId: id });
      expect(distinctTypes(evs), id).toEqual(['OrderPlaced', 'PaymentCharged', 'PaymentRefunded', 'ReservationFailed']);
      const refunded = evs.find((x) => x.envelope.type === saga.events.PaymentRefunded.name);
      const failed = evs.find((x) => x.envelope.type === saga.events.ReservationFailed.name);
      expect(refunded?.envelope.causationId).toBe(failed?.envelope.id);
      expect(refunded?.payload).toEqual({ orderId: id, chargeId: `ch-${id}` });
    }
  });

  it('undoes every branch once when the step after the join fails', async () => {
    for (const id of failShipping) {
      const evs = await harness.events({ sagaId: id });
      expect(distinctTypes(evs), id).toEqual([
        'InventoryReleased',
        'InventoryReserved',
        'OrderPlaced',
        'PaymentCharged',
        'PaymentRefunded',
        'ShipmentFailed',
      ]);
    }
    expect([...ledger.refunds].sort()).toEqual([...failShipping, ...failInventory].map((id) => `ch-${id}`).sort());
    expect([...ledger.releases].sort()).toEqual(failShipping.map((id) => `res-${id}`).sort());
    expect(harness.deadLetters()).toHaveLength(0);
  });
});
