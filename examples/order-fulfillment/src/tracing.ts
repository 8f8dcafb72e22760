import { trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';

/**
 * Exports the SDK's spans over OTLP/HTTP when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set — e.g. `http://localhost:4318` for Jaeger or Tempo.
 * Headers (`OTEL_EXPORTER_OTLP_HEADERS`) are read by the exporter. Returns what to close
 * on shutdown (it flushes the last spans), or undefined when tracing is off.
 */
export function startTracing(serviceName: string, env: NodeJS.ProcessEnv = process.env): { close(): Promise<void> } | undefined {
  // As the OTLP spec says: the traces endpoint is used as is, the generic one gets /v1/traces.
  const traces = env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'];
  const base = env['OTEL_EXPORTER_OTLP_ENDPOINT'];
  const url =
    traces !== undefined && traces !== ''
      ? traces
      : base !== undefined && base !== ''
        ? `${base.replace(/\/+$/, '')}/v1/traces`
        : undefined;
  if (url === undefined) return undefined;
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': env['OTEL_SERVICE_NAME'] ?? serviceName }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url }))],
  });
  trace.setGlobalTracerProvider(provider);
  return { close: () => provider.shutdown() };
}
