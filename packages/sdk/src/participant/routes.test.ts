import { MemorySchemaRegistry } from '@troupe/schema-registry';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { MemoryTransport } from '../transport/memory/memory-transport.js';
import { inventoryHandlers, newLedger, orderSaga, paymentHandlers } from './order-saga.fixture.js';
import { Participant } from './participant.js';

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
