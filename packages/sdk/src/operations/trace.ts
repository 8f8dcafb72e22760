import { context, trace, TraceFlags, type Context, type SpanContext } from '@opentelemetry/api';
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
