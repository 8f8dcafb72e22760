import { Writable } from 'node:stream';
import { SpanKind, trace } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { on, Participant, Publisher, type KafkaTransport } from '@troupe/sdk';
import { uniqueName, waitFor } from '@troupe/testing';
import { startSagaServices, type OrderSaga } from '../packages/sdk/src/participant/order-saga.fixture.js';
import { sagaOnKafka } from './fixtures/sdk-kafka.js';

// The OpenTelemetry SDK's in-memory exporter records every span the SDK makes while four services
// (a publishing and consuming order service, payment, inventory, shipping) run sagas on Kafka.
describe('OpenTelemetry spans across a saga on Kafka', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const lines: Record<string, unknown>[] = [];
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const l of chunk.toString().split('\n')) if (l !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
        cb();
      },
    }),
  );
  let transport: KafkaTransport;
  let saga: OrderSaga;
  const services: Participant[] = [];
  const run = uniqueName('otel');
  const happy = [`${run}-ok-1`, `${run}-ok-2`];
  const failing = `${run}-fail-shipping`;

  beforeAll(async () => {
    trace.setGlobalTracerProvider(provider);
    const setup = await sagaOnKafka('otel');
    ({ transport, saga } = setup);
    const e = saga.events;
    services.push(...(await startSagaServices({ ...setup, logger, groupSuffix: run })));
    services.push(
      await Participant.create({
        name: 'order-service',
        groupId: `order-service-${run}`,
        transport,
        codec: setup.codec,
        logger,
        events: saga.all,
        handlers: [
          on(e.ShipmentScheduled, ({ payload, ctx }) => {
            ctx.logger.info({ orderId: payload.orderId }, 'order shipped');
            return Promise.resolve();
          }),
        ],
      }),
    );
    const publisher = await Publisher.create({ transport, codec: setup.codec, source: 'order-service', contracts: [saga.contract] });
    for (const id of [...happy, failing]) await publisher.publish(e.OrderPlaced, { orderId: id, amount: 10 }, { sagaId: id });
    const shipped = (id: string) => lines.some((l) => l['msg'] === 'order shipped' && l['orderId'] === id);
    const spansOf = (id: string) => exporter.getFinishedSpans().filter((s) => s.attributes['troupe.saga.id'] === id);
    await waitFor(() => happy.every(shipped), { description: 'both happy sagas shipped', timeoutMs: 60_000 });
    // The failing saga ends with both compensations sent.
    await waitFor(() => spansOf(failing).filter((s) => s.name.startsWith('handle compensate:')).length === 2, {
      description: 'both compensations of the failing saga',
      timeoutMs: 60_000,
    });
  });

  afterAll(async () => {
    await Promise.all(services.map((s) => s.close()));
    await transport?.close();
    await provider.shutdown();
    trace.disable();
  });

  const spansOf = (id: string): ReadableSpan[] => exporter.getFinishedSpans().filter((s) => s.attributes['troupe.saga.id'] === id);
  const parentOf = (s: ReadableSpan): string | undefined => s.parentSpanContext?.spanId;

  /** The tree under the root as indented `name [kind]` lines, children in start order. */
  function tree(spans: readonly ReadableSpan[]): string[] {
    const out: string[] = [];
    const walk = (s: ReadableSpan, depth: number): void => {
      out.push(`${'  '.repeat(depth)}${s.name} [${SpanKind[s.kind]}]`);
      const children = spans
        .filter((c) => parentOf(c) === s.spanContext().spanId)
        .sort((a, b) => a.startTime[0] - b.startTime[0] || a.startTime[1] - b.startTime[1]);
      for (const c of children) walk(c, depth + 1);
    };
    for (const root of spans.filter((s) => parentOf(s) === undefined)) walk(root, 0);
    return out;
  }

  it('one trace per saga, one root: the publish', () => {
    for (const id of [...happy, failing]) {
      const spans = spansOf(id);
      expect(new Set(spans.map((s) => s.spanContext().traceId)).size, id).toBe(1);
      const roots = spans.filter((s) => parentOf(s) === undefined);
      expect(
        roots.map((r) => `${r.name} ${SpanKind[r.kind]}`),
        id,
      ).toEqual([`send ${saga.events.OrderPlaced.topic} PRODUCER`]);
    }
    expect(new Set([...happy, failing].map((id) => spansOf(id)[0]?.spanContext().traceId)).size).toBe(3);
  });

  it('parent/child across the four services: send → process → handle → send ...', () => {
    const e = saga.events;
    for (const id of happy) {
      expect(tree(spansOf(id)), id).toEqual([
        `send ${e.OrderPlaced.topic} [PRODUCER]`,
        `  process ${e.OrderPlaced.topic} [CONSUMER]`,
        '    handle step:payment [INTERNAL]',
        `      send ${e.PaymentCharged.topic} [PRODUCER]`,
        `        process ${e.PaymentCharged.topic} [CONSUMER]`,
        '          handle step:inventory [INTERNAL]',
        `            send ${e.InventoryReserved.topic} [PRODUCER]`,
        `              process ${e.InventoryReserved.topic} [CONSUMER]`,
        '                handle step:shipping [INTERNAL]',
        `                  send ${e.ShipmentScheduled.topic} [PRODUCER]`,
        `                    process ${e.ShipmentScheduled.topic} [CONSUMER]`,
        `                      handle on:${e.ShipmentScheduled.name} [INTERNAL]`,
      ]);
    }
  });

  it('compensations of a failed saga stay in its trace', () => {
    const t = tree(spansOf(failing)).map((l) => l.trim());
    expect(t).toEqual(
      expect.arrayContaining([
        'handle step:shipping [INTERNAL]',
        'handle compensate:inventory [INTERNAL]',
        'handle compensate:payment [INTERNAL]',
      ]),
    );
    expect(t.filter((l) => l.startsWith(`process ${saga.events.ShipmentFailed.topic}`))).toHaveLength(2);
  });

  it('spans carry the messaging conventions and the saga id, step and attempt', () => {
    const spans = spansOf(happy[0] ?? '');
    const consume = spans.find((s) => s.name === `process ${saga.events.OrderPlaced.topic}`);
    expect(consume?.attributes).toMatchObject({
      'messaging.system': 'kafka',
      'messaging.operation.type': 'process',
      'messaging.destination.name': saga.events.OrderPlaced.topic,
      'messaging.consumer.group.name': `payment-service-${run}`,
      'troupe.saga.id': happy[0],
    });
    expect(typeof consume?.attributes['messaging.kafka.offset']).toBe('number');
    const handle = spans.find((s) => s.name === 'handle step:inventory');
    expect(handle?.attributes).toMatchObject({
      'troupe.participant': 'inventory-service',
      'troupe.saga.step': 'inventory',
      'troupe.attempt': 1,
    });
    const send = spans.find((s) => s.name === `send ${saga.events.PaymentCharged.topic}`);
    expect(send?.attributes).toMatchObject({
      'messaging.operation.type': 'send',
      'cloudevents.event_type': saga.events.PaymentCharged.name,
      'troupe.saga.step': 'payment',
    });
  });

  it('log lines written in a handler carry its trace_id and span_id', () => {
    for (const id of happy) {
      const line = lines.find((l) => l['msg'] === 'order shipped' && l['orderId'] === id);
      const handle = spansOf(id).find((s) => s.name.startsWith('handle on:'));
      expect(line?.['trace_id']).toBe(handle?.spanContext().traceId);
      expect(line?.['span_id']).toBe(handle?.spanContext().spanId);
    }
  });
});
