import { DLQ_HEADER, headerString } from '@troupe/core';
import { MemorySchemaRegistry } from '@troupe/schema-registry';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { replayRecords } from '../dead-letter/replay.js';
import { on } from '../participant/handlers.js';
import { inventoryHandlers, newLedger, orderSaga, paymentHandlers, shippingHandlers } from '../participant/order-saga.fixture.js';
import { Participant } from '../participant/participant.js';
import type { HandlerDefinition } from '../participant/handlers.js';
import { Publisher } from '../publisher/publisher.js';
import { MemoryTransport } from '../transport/memory/memory-transport.js';

const silent = pino({ level: 'silent' });

describe('an input one of whose routes was dead-lettered is not recorded as handled', () => {
  let services: Participant[] = [];
  let transport: MemoryTransport | undefined;

  afterEach(async () => {
    await Promise.all(services.map((s) => s.close()));
    services = [];
    await transport?.close();
  });

  it('a replay of it runs the dead-lettered route once, not the compensation that already ran', async () => {
    const memory = await MemoryTransport.create();
    transport = memory;
    const codec = new MemorySchemaRegistry();
    const saga = orderSaga('inbox-dead-lettered');
    const e = saga.events;
    const ledger = newLedger();
    const notified: string[] = [];
    // The payment service also audits reservations (an `on` handler that gives up for this order, so
    // the saga is dead here) and notifies on failed shipments: ShipmentFailed then has two routes in
    // it, the payment compensation (runs) and the notification (dead-lettered behind the saga).
    const payment: HandlerDefinition[] = [
      ...paymentHandlers(saga, ledger),
      on(e.InventoryReserved, ({ payload }) =>
        payload.orderId.includes('giveup-audit') ? Promise.reject(new Error('audit log unavailable')) : Promise.resolve(),
      ),
      on(e.ShipmentFailed, ({ payload }) => {
        notified.push(payload.orderId);
        return Promise.resolve();
      }),
    ];
    const start = (name: string, handlers: HandlerDefinition[]): Promise<Participant> =>
      Participant.create({
        name,
        transport: memory,
        codec,
        handlers,
        contracts: [saga.contract],
        events: saga.all,
        logger: silent,
        groupId: `${name}-inbox-dead-lettered`,
        retry: { attempts: 2, initialDelayMs: 5, maxDelayMs: 10 },
      });
    services = await Promise.all([
      start('payment-service', payment),
      start('inventory-service', inventoryHandlers(saga, ledger)),
      start('shipping-service', shippingHandlers(saga, ledger)),
    ]);
    const publisher = await Publisher.create({ transport: memory, codec, source: 'order-service', contracts: [saga.contract] });
    await publisher.publish(e.OrderPlaced, { orderId: 'm-1-giveup-audit-fail-shipping', amount: 1 }, { sagaId: 'm-1' });

    const shippingDlq = `${e.ShipmentFailed.topic}.dlq`;
    const behind = () => memory.records(shippingDlq).find((m) => headerString(m.headers, DLQ_HEADER.reason) === 'SAGA_DEAD_LETTERED');
    const refunds = () =>
      memory.records(e.PaymentRefunded.topic).filter((m) => headerString(m.headers, 'ce_type') === e.PaymentRefunded.name);
    await new Promise<void>((resolve) => {
      const off = memory.onAppend(() => {
        if (behind() && refunds().length > 0) {
          off();
          resolve();
        }
      });
    });
    await memory.idle();
    expect([notified, refunds().length, ledger.refunds]).toEqual([[], 1, ['ch-m-1-giveup-audit-fail-shipping']]);

    // The operator fixed the audit log and replays the notification's dead letter to the payment service.
    const deadLetter = behind();
    if (!deadLetter) throw new Error('no SAGA_DEAD_LETTERED dead letter');
    const replay = replayRecords(deadLetter, { group: 'payment-service-inbox-dead-lettered', by: 'ops', at: new Date().toISOString() });
    if (!replay) throw new Error('not a dead letter');
    await memory.send([replay.event]);
    await memory.idle();
    // Before: ShipmentFailed was in the inbox (its compensation ran), so the replay was a duplicate.
    expect(notified).toEqual(['m-1-giveup-audit-fail-shipping']);
    expect(refunds()).toHaveLength(1);

    // A second copy of the replay is a duplicate now: nothing runs again.
    await memory.send([replay.event]);
    await memory.idle();
    expect(notified).toHaveLength(1);
    expect(refunds()).toHaveLength(1);
  });
});
