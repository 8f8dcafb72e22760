// Participant.create({ brokers, registryUrl, ... }) as a service writes it: the participant makes its
// own Kafka transport and registry client from the addresses, runs a step declared from a step
// descriptor, and closes what it made. Real broker and registry; counted by ce_id, read_committed.
import { defineStep, createSchemaRegistry } from '@troupe/schema-registry';
import { KafkaTransport, Participant, Publisher, readTopicToEnd, SdkError, step } from '@troupe/sdk';
import { kafkaBrokers, uniqueName } from '@troupe/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { orderSaga } from '../packages/sdk/src/participant/order-saga.fixture.js';
import { silentLogger } from './fixtures/sdk-kafka.js';

const registryUrl = process.env['SCHEMA_REGISTRY_URL'] ?? '';

describe('Participant.create with brokers and registryUrl on a real broker', () => {
  const closing: { close(): Promise<void> }[] = [];
  afterAll(async () => {
    for (const c of closing.reverse()) await c.close();
  });

  it('owns its transport and registry, runs the contract step once per event, and run() ends on close', async () => {
    expect(registryUrl, 'SCHEMA_REGISTRY_URL must point at the test registry').not.toBe('');
    const saga = orderSaga(uniqueName('sdk-create'));
    const { events: e } = saga;
    const contract = { ...saga.contract, saga: uniqueName('create-saga') };
    const payment = defineStep({
      saga: contract.saga,
      name: 'payment',
      participant: 'payment-service',
      on: e.OrderPlaced,
      completed: e.PaymentCharged,
      failed: e.PaymentDeclined,
      compensated: e.PaymentRefunded,
      compensateOn: [e.ReservationFailed, e.ShipmentFailed],
    });
    // The contract's other steps belong to other services; only payment runs here.
    const participant = await Participant.create({
      brokers: kafkaBrokers(),
      registryUrl,
      contracts: { [contract.saga]: contract },
      groupId: uniqueName('sdk-create-group'),
      logger: silentLogger,
      handlers: [
        step(payment, {
          handle: ({ payload, ctx }) => ctx.complete({ orderId: payload.orderId, chargeId: `ch-${payload.orderId}` }),
          onGiveUp: ({ payload }) => ({ orderId: payload.orderId, reason: 'gave up' }),
        }),
      ],
    });
    expect(participant.name).toBe('payment-service'); // from the step's owner in the contract
    const running = participant.run();

    const transport = await KafkaTransport.create({ brokers: kafkaBrokers(), logger: silentLogger });
    closing.push(transport);
    const codec = await createSchemaRegistry({ url: registryUrl });
    closing.push(codec);
    const publisher = await Publisher.create({ transport, codec, source: 'order-service', contracts: [contract] });
    const ids = ['o-1', 'o-2', 'o-3'];
    for (const orderId of ids) await publisher.publish(e.OrderPlaced, { orderId, amount: 10 }, { sagaId: orderId });

    let charged: string[] = [];
    for (let i = 0; i < 300 && charged.length < ids.length; i++) {
      const records = await readTopicToEnd(transport.kafka, e.PaymentCharged.topic);
      charged = records
        .filter((r) => r.headers['ce_type']?.toString() === e.PaymentCharged.name)
        .map((r) => r.headers['ce_id']?.toString() ?? '');
      if (charged.length < ids.length) await new Promise((r) => setTimeout(r, 100));
    }
    expect(charged).toHaveLength(ids.length);
    expect(new Set(charged).size).toBe(ids.length); // once per event, by ce_id

    await participant.close();
    await expect(running).resolves.toBeUndefined();
    // What it owned is closed with it: its health says so, and closing again is a no-op.
    expect((await participant.health()).details['consumer']).toBe('closed');
    await participant.close();
  });

  it('refuses to start without a transport or brokers, saying what to pass', async () => {
    const saga = orderSaga(uniqueName('sdk-create-bad'));
    const err = await Participant.create({
      name: 'x',
      handlers: [
        step({
          name: 'payment',
          on: saga.events.OrderPlaced,
          completed: saga.events.PaymentCharged,
          failed: saga.events.PaymentDeclined,
          handle: () => Promise.resolve(),
          onGiveUp: () => ({ orderId: '', reason: '' }),
        }),
      ],
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SdkError);
    expect((err as SdkError).code).toBe('CONFIG_INVALID');
    expect((err as SdkError).message).toMatch(/transport or brokers is required \(brokers: \['host:port'\]/);
  });
});
