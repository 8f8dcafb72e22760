import { MemorySchemaRegistry } from '@troupe/schema-registry';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { MemoryTransport } from '../transport/memory/memory-transport.js';
import { inventoryHandlers, newLedger, orderSaga, paymentHandlers } from './order-saga.fixture.js';
import { Participant } from './participant.js';
import { buildRoutes } from './routes.js';
import { step } from './handlers.js';
import type { SagaContract } from '@troupe/core';

const silent = pino({ level: 'silent' });

describe('start-up checks', () => {
  it('refuses handlers that do not match the contract, naming each problem', async () => {
    const saga = orderSaga('routes');
    const err = await Participant.create({
      name: 'payment-service',
      transport: await MemoryTransport.create(),
      codec: new MemorySchemaRegistry(),
      handlers: inventoryHandlers(saga, newLedger()),
      contracts: [saga.contract],
      events: saga.all,
      logger: silent,
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CONTRACT_MISMATCH' });
    expect((err as Error).message).toContain('step inventory of order-fulfillment belongs to inventory-service, not payment-service');
    expect((err as Error).message).toContain('payment-service owns step payment of order-fulfillment but registers no step(...) for it');
  });

  it('refuses topics with different partition counts on the memory transport too', async () => {
    const saga = orderSaga('parts');
    const transport = await MemoryTransport.create();
    await transport.ensureTopics([
      { topic: saga.events.OrderPlaced.topic, partitions: 3, replicationFactor: 1 },
      { topic: saga.events.PaymentCharged.topic, partitions: 5, replicationFactor: 1 },
    ]);
    await expect(
      Participant.create({
        name: 'payment-service',
        transport,
        codec: new MemorySchemaRegistry(),
        handlers: paymentHandlers(saga, newLedger()),
        contracts: [saga.contract],
        events: saga.all,
        logger: silent,
      }),
    ).rejects.toMatchObject({ code: 'TOPIC_PARTITIONS_MISMATCH' });
  });

  it('refuses impossible options with every problem named', async () => {
    const saga = orderSaga('opts');
    await expect(
      Participant.create({
        name: 'bad name!',
        transport: await MemoryTransport.create(),
        codec: new MemorySchemaRegistry(),
        handlers: paymentHandlers(saga, newLedger()),
        maxBatchSize: 0,
        retry: { attempts: 0 },
      }),
    ).rejects.toThrow(/name must be.*maxBatchSize must be an integer >= 1.*attempts must be an integer >= 1/);
  });
});

describe('routes of parallel groups and optional steps', () => {
  const saga = orderSaga('routes-par', 'parallel');
  const e = saga.events;
  const shipping = (awaits?: 'join') =>
    step<{ orderId: string }, unknown, unknown>({
      name: 'shipping',
      on: e.InventoryReserved,
      ...(awaits === 'join' ? { awaits: [[e.PaymentCharged], [e.InventoryReserved]] } : {}),
      completed: e.ShipmentScheduled,
      failed: e.ShipmentFailed,
      handle: () => Promise.resolve(),
      onGiveUp: () => ({}),
    });

  it('routes every branch of a join to the step, and a sibling branch’s failure to a compensation', () => {
    const join = buildRoutes('shipping-service', [shipping('join')], [saga.contract], saga.all);
    expect(join.byType.get(e.PaymentCharged.name)).toMatchObject([{ kind: 'step', join: { branch: 0 } }]);
    expect(join.byType.get(e.InventoryReserved.name)).toMatchObject([{ kind: 'step', join: { branch: 1 } }]);
    const pay = buildRoutes('payment-service', paymentHandlers(saga, newLedger()), [saga.contract], saga.all);
    expect([...pay.byType.keys()].sort()).toEqual([e.OrderPlaced.name, e.ReservationFailed.name, e.ShipmentFailed.name].sort());
  });

  it('refuses a hand-written join step that waits for one branch only', () => {
    expect(() => buildRoutes('shipping-service', [shipping()], [saga.contract], saga.all)).toThrow(
      /step shipping: contract says it awaits test\.sdk\.PaymentCharged, and test\.sdk\.InventoryReserved, handler awaits test\.sdk\.InventoryReserved/,
    );
  });

  it('starts the step after an optional step on either outcome, and nobody compensates on the optional step’s failure', () => {
    const linear = orderSaga('routes-opt');
    const optional: SagaContract = {
      ...linear.contract,
      steps: linear.contract.steps.map((s) => (s.name === 'inventory' ? { ...s, optional: true } : s)),
    };
    const ship = step<{ orderId: string }, unknown, unknown>({
      name: 'shipping',
      on: linear.events.InventoryReserved,
      awaits: [[linear.events.InventoryReserved, linear.events.ReservationFailed]],
      completed: linear.events.ShipmentScheduled,
      failed: linear.events.ShipmentFailed,
      handle: () => Promise.resolve(),
      onGiveUp: () => ({}),
    });
    const routes = buildRoutes('shipping-service', [ship], [optional], linear.all);
    expect(routes.byType.get(linear.events.ReservationFailed.name)).toMatchObject([{ kind: 'step', label: 'step:shipping' }]);
    expect(routes.byType.get(linear.events.InventoryReserved.name)?.[0]).not.toHaveProperty('join');
    const pay = buildRoutes('payment-service', paymentHandlers(linear, newLedger()), [optional], linear.all);
    expect(pay.byType.has(linear.events.ReservationFailed.name)).toBe(false);
    expect(pay.byType.get(linear.events.ShipmentFailed.name)).toMatchObject([{ kind: 'compensate' }]);
  });
});
