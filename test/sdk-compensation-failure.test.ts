// Issue 10 item 5: a compensation that gives up emits the step's compensationFailed event (with
// the reason), and the tracker shows the step compensation-failed with what is left to undo.
import { headerString, type SagaContract } from '@troupe/core';
import { readTopicToEnd } from '@troupe/kafka';
import { SagaTracker } from '@troupe/saga-tracker';
import { MemorySchemaRegistry, defineEventType } from '@troupe/schema-registry';
import { Participant, Publisher, step, type KafkaTransport } from '@troupe/sdk';
import { kafkaBrokers } from '@troupe/testing';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  inventoryHandlers,
  registerAll,
  type Ledger,
  type OrderPlaced,
  type OrderSaga,
  type PaymentCharged,
  type PaymentDeclined,
  type PaymentRefunded,
} from '../packages/sdk/src/participant/order-saga.fixture.js';
import { sagaOnKafka, silentLogger } from './fixtures/sdk-kafka.js';

interface RefundFailed {
  orderId: string;
  reason: string;
}

describe('a compensation that gives up', () => {
  let transport: KafkaTransport;
  let saga: OrderSaga;
  const codec = new MemorySchemaRegistry();
  let ledger: Ledger;
  let suffix: string;
  let tracker: SagaTracker | undefined;
  const participants: Participant[] = [];

  beforeAll(async () => {
    ({ transport, saga, ledger, suffix } = await sagaOnKafka('sdk-compfail'));
  });

  afterAll(async () => {
    await tracker?.close();
    await Promise.all(participants.map((p) => p.close()));
    await transport?.close();
  });

  it('emits the contract compensationFailed event with the reason, and the tracker shows what is left to undo', async () => {
    const e = saga.events;
    const RefundFailedType = defineEventType<RefundFailed>({
      name: 'test.sdk.PaymentRefundFailed',
      topic: e.PaymentRefunded.topic,
      schema: {
        type: 'record',
        name: 'PaymentRefundFailed',
        namespace: 'test.sdk',
        fields: [
          { name: 'orderId', type: 'string' },
          { name: 'reason', type: 'string' },
        ],
      },
    });
    const contract: SagaContract = {
      ...saga.contract,
      steps: saga.contract.steps.map((s) => (s.name === 'payment' ? { ...s, compensationFailed: RefundFailedType.name } : s)),
    };
    await registerAll(codec, saga);
    await codec.register(`${RefundFailedType.topic}-${RefundFailedType.name}`, RefundFailedType.schema);
    const common = {
      transport,
      codec,
      contracts: [contract],
      events: [...saga.all, RefundFailedType],
      logger: silentLogger,
      metricsRegistry: new Registry(),
      retry: { attempts: 2, initialDelayMs: 10, maxDelayMs: 20 },
    };
    participants.push(
      await Participant.create({
        ...common,
        name: 'payment-service',
        groupId: `payment-service-${suffix}`,
        handlers: [
          step<OrderPlaced, PaymentCharged, PaymentDeclined, { chargeId: string }, PaymentRefunded, RefundFailed>({
            name: 'payment',
            on: e.OrderPlaced,
            completed: e.PaymentCharged,
            failed: e.PaymentDeclined,
            compensated: e.PaymentRefunded,
            compensationFailed: RefundFailedType,
            handle: ({ payload, ctx }) =>
              ctx.complete({ orderId: payload.orderId, chargeId: `ch-${payload.orderId}` }, { chargeId: `ch-${payload.orderId}` }),
            onGiveUp: ({ payload, error }) => ({ orderId: payload.orderId, reason: String(error) }),
            compensate: () => Promise.reject(new Error('bank offline: refund refused')),
            onCompensationGiveUp: ({ log, error, ctx }) => ({
              orderId: ctx.sagaId,
              reason: `${String(error)} (charge ${log?.chargeId ?? 'none'})`,
            }),
          }),
        ],
      }),
      await Participant.create({
        ...common,
        name: 'inventory-service',
        groupId: `inventory-service-${suffix}`,
        handlers: inventoryHandlers(saga, ledger),
      }),
    );
    const sagaId = `compfail-${suffix}`;
    const publisher = await Publisher.create({ transport, codec, source: 'order-service', contracts: [contract] });
    await publisher.publish(e.OrderPlaced, { orderId: 'fail-inventory-1', amount: 5 }, { sagaId });

    // The compensationFailed event, once by ce_id among committed records, with its role, step and reason.
    const refundFailures = async () => {
      const records = await readTopicToEnd(transport.kafka, e.PaymentRefunded.topic);
      const byId = new Map<string, (typeof records)[number]>();
      for (const r of records) {
        if (headerString(r.headers, 'ce_type') === RefundFailedType.name) byId.set(headerString(r.headers, 'ce_id') ?? '', r);
      }
      return [...byId.values()];
    };
    let found: Awaited<ReturnType<typeof refundFailures>> = [];
    const deadline = Date.now() + 90_000;
    while (found.length === 0 && Date.now() < deadline) {
      found = await refundFailures();
      if (found.length === 0) await new Promise((r) => setTimeout(r, 250));
    }
    expect(found).toHaveLength(1);
    const [record] = found;
    expect(headerString(record?.headers, 'ce_sagarole')).toBe('compensation-failed');
    expect(headerString(record?.headers, 'ce_sagastep')).toBe('payment');
    expect(headerString(record?.headers, 'ce_sagaid')).toBe(sagaId);
    const { payload } = await codec.decode(record?.value ?? Buffer.alloc(0));
    expect(payload).toEqual({ orderId: sagaId, reason: 'Error: bank offline: refund refused (charge ch-fail-inventory-1)' });
    // Nothing claims the refund happened.
    expect(
      (await readTopicToEnd(transport.kafka, e.PaymentRefunded.topic)).filter(
        (r) => headerString(r.headers, 'ce_type') === e.PaymentRefunded.name,
      ),
    ).toEqual([]);

    tracker = await SagaTracker.create({
      brokers: kafkaBrokers(),
      contracts: [contract],
      topics: [e.OrderPlaced.topic, e.PaymentCharged.topic, e.InventoryReserved.topic, e.ShipmentScheduled.topic],
      codec,
      port: 0,
      logger: pino({ level: 'silent' }),
    });
    type Detail = {
      status: string;
      steps: { name: string; status: string }[];
      compensations: { expected: string[]; failed: string[]; leftToUndo: string[] };
      failures: { kind: string; step?: string; reason?: string }[];
    };
    let detail: Detail | undefined;
    const until = Date.now() + 60_000;
    while (Date.now() < until) {
      const res = await fetch(`${tracker.url}/api/sagas/${sagaId}`);
      detail = res.ok ? ((await res.json()) as Detail) : undefined;
      const statuses = detail?.steps.map((s) => s.status).join();
      if (statuses === 'compensation-failed,failed,pending') break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(detail?.steps.map((s) => [s.name, s.status])).toEqual([
      ['payment', 'compensation-failed'],
      ['inventory', 'failed'],
      ['shipping', 'pending'],
    ]);
    expect(detail?.status).toBe('failed');
    expect(detail?.compensations).toMatchObject({ expected: ['payment'], failed: ['payment'], leftToUndo: ['payment'] });
    expect(detail?.failures.find((f) => f.kind === 'compensation-failed')).toMatchObject({
      step: 'payment',
      reason: 'Error: bank offline: refund refused (charge ch-fail-inventory-1)',
    });
  });
});
