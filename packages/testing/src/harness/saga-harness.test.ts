import { MemorySchemaRegistry } from '@troupe/schema-registry';
import { MemoryTransport, VirtualClock, type Participant } from '@troupe/sdk';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { newLedger, orderSaga, startSagaServices } from '../../../sdk/src/participant/order-saga.fixture.js';
import { SagaHarness } from './saga-harness.js';

describe('SagaHarness on the memory transport', () => {
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of closers.splice(0).reverse()) await c();
  });

  async function setup() {
    const transport = await MemoryTransport.create();
    const codec = new MemorySchemaRegistry();
    const saga = orderSaga('harness');
    const harness = await SagaHarness.create({ transport, codec, events: saga.all, contracts: [saga.contract], timeoutMs: 5000 });
    const services: Participant[] = await startSagaServices({
      transport,
      codec,
      saga,
      ledger: newLedger(),
      logger: pino({ level: 'silent' }),
    });
    closers.push(
      () => transport.close(),
      () => harness.close(),
      async () => void (await Promise.all(services.map((s) => s.close()))),
    );
    return { saga, harness };
  }

  it('publishes, waits for the saga’s events and shows payloads, published and consumed events', async () => {
    const { saga, harness } = await setup();
    const e = saga.events;
    const start = await harness.publish(e.OrderPlaced, { orderId: 'h-1', amount: 3 }, { sagaId: 'h-1' });
    const events = await harness.waitForEvents('h-1', [e.PaymentCharged, e.InventoryReserved, e.ShipmentScheduled]);
    expect(events.map((x) => x.envelope.type)).toEqual(
      [e.OrderPlaced, e.PaymentCharged, e.InventoryReserved, e.ShipmentScheduled].map((t) => t.name),
    );
    expect(events[1]?.payload).toEqual({ orderId: 'h-1', chargeId: 'ch-h-1' });
    expect(harness.published).toEqual([start]);
    await harness.settle();
    const consumed = await harness.consumed(`payment-service-${e.OrderPlaced.topic}`);
    expect(consumed.map((x) => x.envelope.type)).toContain(e.OrderPlaced.name);
    expect(harness.deadLetters()).toEqual([]);
  });

  it('fails with what it waited for when the saga does not get there', async () => {
    const { saga, harness } = await setup();
    await harness.publish(saga.events.OrderPlaced, { orderId: 'h-2-fail-inventory', amount: 3 }, { sagaId: 'h-2' });
    await expect(harness.waitForEvents('h-2', [saga.events.ShipmentScheduled], 300)).rejects.toThrow(
      /saga h-2 to produce test\.sdk\.ShipmentScheduled/,
    );
  });

  it('drives retry-topic delays with virtual time: a 10-minute retry runs when the harness advances 10 minutes', async () => {
    const clock = new VirtualClock();
    const transport = await MemoryTransport.create({ clock });
    const codec = new MemorySchemaRegistry();
    const saga = orderSaga('harness-virtual');
    const harness = await SagaHarness.create({ transport, codec, events: saga.all, contracts: [saga.contract], timeoutMs: 5000 });
    const gatewayBackAt = clock.now() + 10 * 60_000;
    const services = await startSagaServices({
      transport,
      codec,
      saga,
      ledger: newLedger(),
      logger: pino({ level: 'silent' }),
      overrides: { retryTopic: { delayMs: 10 * 60_000, attempts: 2 } },
      hooks: {
        afterEffect: (step) =>
          step === 'payment' && clock.now() < gatewayBackAt ? Promise.reject(new Error('gateway down')) : Promise.resolve(),
      },
    });
    closers.push(
      () => transport.close(),
      () => harness.close(),
      async () => void (await Promise.all(services.map((s) => s.close()))),
    );
    const e = saga.events;
    await harness.publish(e.OrderPlaced, { orderId: 'v-1', amount: 3 }, { sagaId: 'v-1' });
    await harness.advance('9m');
    expect((await harness.events({ sagaId: 'v-1' })).map((x) => x.envelope.type)).toEqual([e.OrderPlaced.name]);
    await harness.advance('1m');
    const events = await harness.waitForEvents('v-1', [e.ShipmentScheduled]);
    expect(events.map((x) => x.envelope.type)).toContain(e.PaymentCharged.name);
    expect(harness.now() - (gatewayBackAt - 10 * 60_000)).toBe(10 * 60_000);
  });

  it('refuses to advance time on a transport without a virtual clock, saying how to get one', async () => {
    const { harness } = await setup();
    await expect(harness.advance('1m')).rejects.toThrow(/MemoryTransport\.create\(\{ clock: new VirtualClock\(\) \}\)/);
  });
});
