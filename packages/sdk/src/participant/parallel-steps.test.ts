import { parseEnvelope, type EventEnvelope } from '@troupe/core';
import { MemorySchemaRegistry } from '@troupe/schema-registry';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MemoryTransport } from '../transport/memory/memory-transport.js';
import { waitUntil } from '../transport/memory/wait-until.fixture.js';
import { newLedger, orderSaga, startSagaServices, type Ledger, type OrderSaga, type SagaHooks } from './order-saga.fixture.js';
import type { Participant } from './participant.js';
import { Publisher } from '../publisher/publisher.js';
import { readRoutingSlip } from './routing-slip.js';
import type { InboundMessage } from '../transport/transport.js';

const silent = pino({ level: 'silent' });

const envelopes = (transport: MemoryTransport, saga: OrderSaga, sagaId: string): (EventEnvelope & { msg: InboundMessage })[] =>
  [...new Set(saga.all.map((e) => e.topic))]
    .flatMap((topic) => transport.records(topic))
    .map((msg) => ({ ...parseEnvelope(msg.headers), msg }))
    .filter((e) => e.sagaId === sagaId);

describe('parallel groups on the memory transport (payment ∥ inventory, then shipping)', () => {
  let transport: MemoryTransport;
  let saga: OrderSaga;
  let ledger: Ledger;
  let services: Participant[];
  let publisher: Publisher;
  const hooks: SagaHooks = {};

  beforeEach(async () => {
    transport = await MemoryTransport.create();
    const codec = new MemorySchemaRegistry();
    saga = orderSaga('par', 'parallel');
    ledger = newLedger();
    services = await startSagaServices({ transport, codec, saga, ledger, logger: silent, hooks });
    publisher = await Publisher.create({ transport, codec, source: 'order-service', contracts: [saga.contract] });
  });

  afterEach(async () => {
    delete hooks.beforeFailure;
    await Promise.all(services.map((s) => s.close()));
    await transport.close();
  });

  const typesOf = (sagaId: string): string[] => envelopes(transport, saga, sagaId).map((e) => e.type.replace('test.sdk.', ''));
  const count = (sagaId: string, type: string): number => typesOf(sagaId).filter((t) => t === type).length;

  it('starts both branches on the start event and ships once, after both, with both logs on the slip', async () => {
    await publisher.publish(saga.events.OrderPlaced, { orderId: 'p-1', amount: 1 }, { sagaId: 'p-1' });
    await waitUntil(transport, () => count('p-1', 'ShipmentScheduled') > 0, 'ShipmentScheduled');
    await services[2]?.close(); // nothing left to come: a second shipment would be visible by now
    expect([count('p-1', 'PaymentCharged'), count('p-1', 'InventoryReserved'), count('p-1', 'ShipmentScheduled')]).toEqual([1, 1, 1]);
    const shipped = envelopes(transport, saga, 'p-1').find((e) => e.type === saga.events.ShipmentScheduled.name);
    // The join's output carries every branch's log, so a failure after it can undo both.
    expect(readRoutingSlip(shipped?.msg.headers)).toEqual({ payment: { chargeId: 'ch-p-1' }, inventory: { reservationId: 'res-p-1' } });
    expect(ledger.shipments).toEqual(['p-1']);
  });

  it('undoes the completed branch when its sibling fails, with the log the sibling’s failure does not carry', async () => {
    // Inventory fails only after payment charged, so there is a completed branch to undo.
    hooks.beforeFailure = (_step, orderId) => waitUntil(transport, () => count(orderId, 'PaymentCharged') > 0, 'PaymentCharged');
    await publisher.publish(saga.events.OrderPlaced, { orderId: 'fail-inventory-1', amount: 1 }, { sagaId: 'fail-inventory-1' });
    await waitUntil(transport, () => count('fail-inventory-1', 'PaymentRefunded') > 0, 'PaymentRefunded');
    const failure = envelopes(transport, saga, 'fail-inventory-1').find((e) => e.type === saga.events.ReservationFailed.name);
    expect(readRoutingSlip(failure?.msg.headers)).toEqual({}); // it descends from OrderPlaced, not PaymentCharged
    expect(ledger.refunds).toEqual(['ch-fail-inventory-1']);
    expect(ledger.compensationLogs).toEqual([{ step: 'payment', sagaId: 'fail-inventory-1', log: { chargeId: 'ch-fail-inventory-1' } }]);
    expect(count('fail-inventory-1', 'ShipmentScheduled') + count('fail-inventory-1', 'ShipmentFailed')).toBe(0); // the join never completed
  });

  it('undoes both branches when the step after the join fails', async () => {
    await publisher.publish(saga.events.OrderPlaced, { orderId: 'fail-shipping-1', amount: 1 }, { sagaId: 'fail-shipping-1' });
    await waitUntil(
      transport,
      () => count('fail-shipping-1', 'PaymentRefunded') > 0 && count('fail-shipping-1', 'InventoryReleased') > 0,
      'both compensations',
    );
    expect(ledger.refunds).toEqual(['ch-fail-shipping-1']);
    expect(ledger.releases).toEqual(['res-fail-shipping-1']);
  });
});
