import {
  context,
  INVALID_SPAN_CONTEXT,
  ProxyTracerProvider,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Attributes,
  type Context,
  type Span,
  type SpanContext,
  type Tracer,
} from '@opentelemetry/api';
import { randomBytes } from 'node:crypto';

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** Parses a W3C `traceparent` (version 00); undefined when absent or malformed. */
export function parseTraceparent(value: string | undefined): SpanContext | undefined {
  const m = value === undefined ? null : TRACEPARENT.exec(value);
  if (!m || /^0+$/.test(m[1] ?? '') || /^0+$/.test(m[2] ?? '')) return undefined;
  return { traceId: m[1] ?? '', spanId: m[2] ?? '', traceFlags: parseInt(m[3] ?? '0', 16), isRemote: true };
}

export function formatTraceparent(sc: SpanContext): string {
  return `00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}

/** A fresh root `traceparent` (sampled), for events published outside any trace. */
export function newTraceparent(): string {
  return formatTraceparent({
    traceId: randomBytes(16).toString('hex'),
    spanId: randomBytes(8).toString('hex'),
    traceFlags: TraceFlags.SAMPLED,
  });
}

/**
 * The OpenTelemetry context a handler runs in: the handled event's trace as the remote parent, so
 * spans a user starts (with an OpenTelemetry SDK installed) join the saga's trace.
 */
export function contextFromTraceparent(traceparent: string | undefined): Context {
  const sc = parseTraceparent(traceparent);
  return sc ? trace.setSpanContext(context.active(), sc) : context.active();
}

/**
 * The `traceparent` an emitted event carries: the active span's (when an OpenTelemetry SDK with a
 * context manager is installed and the user started a span), else the handled event's own.
 * Only `@opentelemetry/api` is used, so nothing breaks when no SDK is installed.
 */
export function outgoingTraceparent(fallback: string | undefined): string | undefined {
  const sc = trace.getSpanContext(context.active());
  if (sc && trace.isSpanContextValid(sc)) return formatTraceparent(sc);
  return fallback;
}

// Spans of a saga, after OpenTelemetry's messaging semantic conventions. Only `@opentelemetry/api`
// is used: without an installed SDK every span is a no-op and `traceparent` still propagates.
//
//   send <topic>      PRODUCER  Publisher.publish, and every event a handler emits
//   process <topic>   CONSUMER  one consumed record; parent = the producer span in its traceparent
//   handle <route>    INTERNAL  one handler attempt: troupe.saga.id, troupe.saga.step, troupe.attempt
//
// So one saga is one trace: publish → process → handle → send → process → ...

const TRACER_NAME = '@troupe/sdk';

/**
 * The SDK's tracer when an OpenTelemetry SDK is installed, else undefined. Without one every span
 * is a no-op that ignores its attributes, and building them (three spans per handled event) was a
 * measurable share of a participant's CPU on the step bench: callers build attributes only for a
 * tracer that can use them. Asked per span, so an SDK registered later is used from then on.
 */
function liveTracer(): Tracer | undefined {
  const provider = trace.getTracerProvider();
  // The API's global provider is a proxy that delegates once an SDK registers its provider.
  return provider instanceof ProxyTracerProvider ? provider.getDelegateTracer(TRACER_NAME) : provider.getTracer(TRACER_NAME);
}

/** What the API's no-op tracer starts: a non-recording span carrying the parent's span context. */
function noopSpan(parent: Context): Span {
  const sc = trace.getSpanContext(parent);
  return trace.wrapSpanContext(sc !== undefined && trace.isSpanContextValid(sc) ? sc : INVALID_SPAN_CONTEXT);
}

/** What the spans say about the event, in OpenTelemetry's messaging and Troupe's own attributes. */
export interface SpanEvent {
  readonly id: string;
  readonly type: string;
  readonly sagaId: string;
  readonly sagaType?: string;
  readonly step?: string;
}

function eventAttributes(topic: string, e: SpanEvent, step: string | undefined): Attributes {
  const a: Attributes = {
    'messaging.system': 'kafka',
    'messaging.destination.name': topic,
    'messaging.message.id': e.id,
    'messaging.kafka.message.key': e.sagaId,
    'cloudevents.event_id': e.id,
    'cloudevents.event_type': e.type,
    'troupe.saga.id': e.sagaId,
  };
  if (e.sagaType !== undefined) a['troupe.saga.type'] = e.sagaType;
  if (step !== undefined) a['troupe.saga.step'] = step;
  return a;
}

/** The context to start a span in: the caller's active span when there is one, else `fallback`. */
function parentContext(fallback: Context): Context {
  const active = trace.getSpanContext(context.active());
  return active !== undefined && trace.isSpanContextValid(active) ? context.active() : fallback;
}

/**
 * A PRODUCER span for an event about to be sent, and the `traceparent` the event carries: the
 * span's own when an SDK records it, else `fallback` (the handled event's, so propagation works
 * without an SDK). End the span when the send is done (or, for emitted events, appended).
 */
export function startSendSpan(
  topic: string,
  e: SpanEvent,
  parent: Context,
  fallback: string | undefined,
): { span: Span; traceparent: string | undefined } {
  const tracer = liveTracer();
  if (tracer === undefined) return { span: noopSpan(parentContext(parent)), traceparent: fallback };
  const attributes = eventAttributes(topic, e, e.step);
  attributes['messaging.operation.type'] = 'send';
  attributes['messaging.operation.name'] = 'send';
  const span = tracer.startSpan(`send ${topic}`, { kind: SpanKind.PRODUCER, attributes }, parentContext(parent));
  const sc = span.spanContext();
  return { span, traceparent: span.isRecording() && trace.isSpanContextValid(sc) ? formatTraceparent(sc) : fallback };
}

/**
 * A CONSUMER span for one consumed record, child of the span that sent it (its `traceparent`).
 * `step` is the `troupe.saga.step` attribute (the envelope's `sagaStep`), apart so that callers
 * can pass the envelope as it is.
 */
export function startProcessSpan(
  record: { readonly topic: string; readonly partition: number; readonly offset: string },
  e: SpanEvent & { readonly traceparent?: string | undefined },
  groupId: string,
  step: string | undefined = e.step,
): { span: Span; ctx: Context } {
  const parent = contextFromTraceparent(e.traceparent);
  const tracer = liveTracer();
  if (tracer === undefined) {
    const span = noopSpan(parent);
    return { span, ctx: trace.setSpan(parent, span) };
  }
  const attributes = eventAttributes(record.topic, e, step);
  attributes['messaging.operation.type'] = 'process';
  attributes['messaging.operation.name'] = 'process';
  attributes['messaging.consumer.group.name'] = groupId;
  attributes['messaging.destination.partition.id'] = String(record.partition);
  attributes['messaging.kafka.offset'] = Number(record.offset);
  const span = tracer.startSpan(`process ${record.topic}`, { kind: SpanKind.CONSUMER, attributes }, parent);
  return { span, ctx: trace.setSpan(parent, span) };
}

/** An INTERNAL span for one attempt of one handler. */
export function startHandleSpan(
  parent: Context,
  h: { readonly participant: string; readonly route: string; readonly sagaId: string; readonly step?: string; readonly attempt: number },
): { span: Span; ctx: Context } {
  const tracer = liveTracer();
  if (tracer === undefined) {
    const span = noopSpan(parent);
    return { span, ctx: trace.setSpan(parent, span) };
  }
  const attributes: Attributes = { 'troupe.participant': h.participant, 'troupe.handler': h.route, 'troupe.saga.id': h.sagaId };
  if (h.step !== undefined) attributes['troupe.saga.step'] = h.step;
  attributes['troupe.attempt'] = h.attempt;
  const span = tracer.startSpan(`handle ${h.route}`, { kind: SpanKind.INTERNAL, attributes }, parent);
  return { span, ctx: trace.setSpan(parent, span) };
}

/** Ends a span, marking it failed with the error when there is one. */
export function endSpan(span: Span, error?: unknown): void {
  if (error !== undefined) {
    const message = error instanceof Error ? error.message : typeof error === 'string' ? error : JSON.stringify(error);
    span.recordException(error instanceof Error ? error : message);
    span.setStatus({ code: SpanStatusCode.ERROR, message });
  }
  span.end();
}

/** `trace_id`/`span_id` for log lines, when the span is real (an SDK is installed). */
export function logTraceFields(span: Span): { trace_id?: string; span_id?: string } {
  const sc = span.spanContext();
  return span.isRecording() && trace.isSpanContextValid(sc) ? { trace_id: sc.traceId, span_id: sc.spanId } : {};
}
