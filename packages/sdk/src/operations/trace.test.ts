import { SpanKind, trace } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import { contextFromTraceparent, startHandleSpan, startProcessSpan, startSendSpan } from './trace.js';

const PARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
const record = { topic: 'payments', partition: 3, offset: '42' };
const event = { id: 'e-1', type: 'PaymentCharged', sagaId: 's-1', sagaType: 'order', traceparent: PARENT };

describe('spans without an OpenTelemetry SDK', () => {
  it('are non-recording and carry the parent span context, so propagation still works', () => {
    const process = startProcessSpan(record, event, 'payment-g', 'charge');
    expect(process.span.isRecording()).toBe(false);
    expect(process.span.spanContext().traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(trace.getSpanContext(process.ctx)?.spanId).toBe('b7ad6b7169203331');
    const handle = startHandleSpan(process.ctx, { participant: 'p', route: 'on:X', sagaId: 's-1', attempt: 1 });
    expect(handle.span.isRecording()).toBe(false);
    expect(trace.getSpanContext(handle.ctx)?.traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    // Without a recording span the emitted event carries the handled event's traceparent.
    const send = startSendSpan('out', { id: 'e-2', type: 'Y', sagaId: 's-1' }, handle.ctx, PARENT);
    expect(send.span.isRecording()).toBe(false);
    expect(send.traceparent).toBe(PARENT);
  });

  it('have an invalid span context when the record has no traceparent', () => {
    const process = startProcessSpan(record, { ...event, traceparent: undefined }, 'payment-g');
    expect(trace.isSpanContextValid(process.span.spanContext())).toBe(false);
    expect(startSendSpan('out', { id: 'e-2', type: 'Y', sagaId: 's-1' }, contextFromTraceparent(undefined), undefined).traceparent).toBe(
      undefined,
    );
  });
});

describe('spans with an OpenTelemetry SDK registered', () => {
  afterEach(() => trace.disable());

  it('record the messaging and saga attributes, also when the SDK is registered after the first spans', () => {
    startProcessSpan(record, event, 'payment-g', 'charge').span.end();
    const exporter = new InMemorySpanExporter();
    trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
    const process = startProcessSpan(record, event, 'payment-g', 'charge');
    const handle = startHandleSpan(process.ctx, {
      participant: 'payment',
      route: 'step:charge',
      sagaId: 's-1',
      step: 'charge',
      attempt: 2,
    });
    const send = startSendSpan('out', { id: 'e-2', type: 'Y', sagaId: 's-1', sagaType: 'order', step: 'charge' }, handle.ctx, PARENT);
    for (const s of [send.span, handle.span, process.span]) s.end();
    const [sent, handled, processed] = exporter.getFinishedSpans();
    expect(processed?.kind).toBe(SpanKind.CONSUMER);
    expect(processed?.attributes).toEqual({
      'messaging.system': 'kafka',
      'messaging.destination.name': 'payments',
      'messaging.message.id': 'e-1',
      'messaging.kafka.message.key': 's-1',
      'cloudevents.event_id': 'e-1',
      'cloudevents.event_type': 'PaymentCharged',
      'troupe.saga.id': 's-1',
      'troupe.saga.type': 'order',
      'troupe.saga.step': 'charge',
      'messaging.operation.type': 'process',
      'messaging.operation.name': 'process',
      'messaging.consumer.group.name': 'payment-g',
      'messaging.destination.partition.id': '3',
      'messaging.kafka.offset': 42,
    });
    expect(processed?.spanContext().traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(handled?.attributes).toEqual({
      'troupe.participant': 'payment',
      'troupe.handler': 'step:charge',
      'troupe.saga.id': 's-1',
      'troupe.saga.step': 'charge',
      'troupe.attempt': 2,
    });
    expect(sent?.kind).toBe(SpanKind.PRODUCER);
    expect(sent?.attributes['messaging.operation.type']).toBe('send');
    expect(sent?.attributes['troupe.saga.step']).toBe('charge');
    // A recording send span: the emitted event carries its own traceparent, in the same trace.
    expect(send.traceparent).toBe(`00-0af7651916cd43dd8448eb211c80319c-${sent?.spanContext().spanId}-01`);
  });
});
