import { readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import Fastify from 'fastify';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import { contractStages, type SagaContract } from '@troupe/core';
import type { EventCodec } from '@troupe/schema-registry';
import { ContractBook } from '../contract-book.js';
import { TrackerError } from '../errors.js';
import type { TrackerMetrics } from '../metrics.js';
import { stuckInfo } from '../stuck.js';
import type { FeedEntry } from '../store/saga-store.js';
import type { SagaStore } from '../store/saga-store.js';
import type { TrackedEvent } from '../tracked-event.js';
import { authEnabled, installAuth, maySeePayloads, redactor, type Redactor, type TrackerAuthOptions } from './auth.js';
import type {
  ActivityResponse,
  FlowResponse,
  SagaDetailResponse,
  SagaListResponse,
  StatsResponse,
  TimelineEntry,
  TypesResponse,
} from './api-types.js';
import { parseActivityQuery, parseBoolean, parseListQuery } from './query.js';
import type { RawQuery } from './query.js';

/** What `/health` reports about the parts the HTTP layer does not own (the Kafka consumer). */
export interface HealthReport {
  readonly ok: boolean;
  readonly [part: string]: unknown;
}

export interface TrackerAppOptions {
  readonly store: SagaStore;
  /** Contracts, for `/api/types` and step names of types with no sagas yet. @default [] */
  readonly contracts?: readonly SagaContract[];
  /** Decodes payloads for `GET /api/sagas/:id?payloads=true`; without it payloads stay base64. */
  readonly codec?: EventCodec;
  readonly metrics?: TrackerMetrics;
  /** Health of the ingestion side; merged into `/health`. @default always ok */
  readonly health?: () => HealthReport;
  /** The clock "stuck" is judged by. @default Date.now */
  readonly now?: () => number;
  /** A pino logger for requests; `false` for none. @default false */
  readonly logger?: Logger | false;
  /** Interval of SSE keep-alive comments, so proxies do not close an idle stream. @default 15000 */
  readonly sseKeepAliveMs?: number;
  /**
   * Link to each saga's trace: a URL with `{traceId}`, e.g. `http://localhost:16686/trace/{traceId}`
   * (Jaeger) or a Grafana Explore URL for Tempo. @default none (the API still returns `traceId`)
   */
  readonly traceUrl?: string;
  /** Who may read, who may see payloads, which payload fields nobody sees. @default open, nothing redacted */
  readonly auth?: TrackerAuthOptions;
}

const UI_DIR = new URL('../../ui/', import.meta.url);
const UI_FILES: Readonly<Record<string, string>> = {
  '/': 'index.html',
  '/app.js': 'app.js',
  '/app.css': 'app.css',
};
const CONTENT_TYPES: Readonly<Record<string, string>> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
};

/**
 * The tracker's HTTP API and web page. Read-only by construction: only GET routes exist, and
 * everything they touch is the store's query side.
 */
export function buildTrackerApp(opts: TrackerAppOptions): FastifyInstance {
  const { store, metrics } = opts;
  const now = opts.now ?? Date.now;
  const contracts = new ContractBook(opts.contracts);
  const logger: FastifyBaseLogger | undefined = opts.logger === false ? undefined : opts.logger;
  const app: FastifyInstance = Fastify(logger !== undefined ? { loggerInstance: logger } : { logger: false });

  app.setErrorHandler((err: unknown, req, reply) => {
    if (err instanceof TrackerError && err.code === 'INVALID_QUERY') {
      return reply.code(400).send({ error: err.code, message: err.message });
    }
    const status = (err as { statusCode?: number }).statusCode;
    if (status !== undefined && status >= 400 && status < 500) {
      return reply.code(status).send({ error: 'BAD_REQUEST', message: (err as Error).message });
    }
    req.log.error({ err }, 'request failed');
    const code = err instanceof TrackerError ? err.code : 'INTERNAL';
    return reply.code(err instanceof TrackerError && err.retriable ? 503 : 500).send({ error: code, message: (err as Error).message });
  });
  const authOn = authEnabled(opts.auth);
  if (opts.auth !== undefined && authOn) installAuth(app, opts.auth);
  const redact = redactor(opts.auth?.redact);
  if (metrics !== undefined) {
    app.addHook('onResponse', async (req, reply) => {
      metrics.httpRequests.inc({ route: req.routeOptions.url ?? 'unknown', status: String(reply.statusCode) });
    });
  }

  app.get('/api/sagas', async (req): Promise<SagaListResponse> => store.list(parseListQuery(req.query as RawQuery, now())));

  app.get<{ Params: { id: string } }>('/api/sagas/:id', async (req, reply) => {
    const q = req.query as RawQuery;
    for (const k of Object.keys(q)) {
      if (k !== 'payloads') throw new TrackerError('INVALID_QUERY', `unknown query parameter '${k}'; only 'payloads' is accepted.`);
    }
    const withPayloads = parseBoolean(q, 'payloads');
    if (withPayloads && !maySeePayloads(req, authOn)) {
      return reply.code(403).send({
        error: 'FORBIDDEN',
        message: 'these credentials may see saga metadata, not payloads; ask for a token with payload access (JWT scope troupe:payloads).',
      });
    }
    const detail = await store.get(req.params.id);
    if (detail === undefined) return reply.code(404).send({ error: 'NOT_FOUND', message: `no saga '${req.params.id}' has been seen.` });
    const timeline = await Promise.all(
      detail.events.map((e) => timelineEntry(e, withPayloads ? opts.codec : undefined, withPayloads, redact)),
    );
    const traceId = sagaTraceId(detail.events);
    const body: SagaDetailResponse = {
      ...detail.projection,
      stuck: stuckInfo(detail.projection, now()),
      contract: contracts.of(detail.projection.sagaType, detail.projection.sagaVersion) ?? null,
      timeline,
      ...(traceId !== undefined ? { traceId } : {}),
      ...(traceId !== undefined && opts.traceUrl !== undefined ? { traceUrl: opts.traceUrl.replaceAll('{traceId}', traceId) } : {}),
    };
    return body;
  });

  app.get('/api/stats', async (req): Promise<StatsResponse> => {
    const q = req.query as RawQuery;
    for (const k of Object.keys(q)) {
      if (k !== 'type') throw new TrackerError('INVALID_QUERY', `unknown query parameter '${k}'; only 'type' is accepted.`);
    }
    const type = typeof q['type'] === 'string' && q['type'] !== '' ? q['type'] : undefined;
    const t = now();
    return { at: new Date(t).toISOString(), types: await store.stats({ now: t, ...(type !== undefined ? { type } : {}) }) };
  });

  app.get('/api/types', async (): Promise<TypesResponse> => {
    const seen = await store.types();
    const names = [...new Set([...seen, ...contracts.types()])].sort();
    return { types: names.map((name) => ({ name, contract: contracts.latest(name) ?? null, versions: contracts.versions(name) })) };
  });

  app.get<{ Params: { type: string } }>('/api/types/:type/flow', async (req): Promise<FlowResponse> => {
    const contract = contracts.latest(req.params.type);
    return { ...(await store.flow(req.params.type)), contract: contract ?? null, stages: flowStages(contract) };
  });

  app.get('/api/activity', async (req): Promise<ActivityResponse> => {
    const q = parseActivityQuery(req.query as RawQuery, now());
    return { from: new Date(q.from).toISOString(), bucketMs: q.bucketMs, buckets: await store.activity(q) };
  });

  // Open event streams would keep close() waiting forever: end them first.
  const streams = new Set<ServerResponse>();
  app.addHook('preClose', (done) => {
    for (const res of streams) res.end();
    done();
  });
  app.get('/api/stream', (req, reply) => {
    const q = req.query as RawQuery;
    for (const k of Object.keys(q)) {
      if (k !== 'lastEventId') throw new TrackerError('INVALID_QUERY', `unknown query parameter '${k}'; only 'lastEventId' is accepted.`);
    }
    // The header is what EventSource sends on reconnect; the parameter serves a first connection.
    const header = req.headers['last-event-id'];
    const param = typeof q['lastEventId'] === 'string' && q['lastEventId'] !== '' ? q['lastEventId'] : undefined;
    const after = typeof header === 'string' && header !== '' ? header : param;
    stream(reply, store, { keepAliveMs: opts.sseKeepAliveMs ?? 15_000, streams, after });
  });

  app.get('/health', async (_req, reply) => {
    const ingest = opts.health?.() ?? { ok: true };
    let storeOk = true;
    let storeError: string | undefined;
    try {
      await store.ping();
    } catch (err) {
      storeOk = false;
      storeError = (err as Error).message;
    }
    const ok = ingest.ok && storeOk;
    return reply.code(ok ? 200 : 503).send({
      status: ok ? 'ok' : 'unavailable',
      store: { kind: store.kind, ok: storeOk, ...(storeError !== undefined ? { error: storeError } : {}) },
      ingest,
    });
  });

  app.get('/metrics', async (_req, reply) => {
    if (metrics === undefined) return reply.code(404).send({ error: 'NOT_FOUND', message: 'metrics are not enabled' });
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  for (const [route, file] of Object.entries(UI_FILES)) {
    app.get(route, async (_req, reply) => {
      const body = await readFile(new URL(file, UI_DIR), 'utf8');
      return reply.type(CONTENT_TYPES[file.slice(file.lastIndexOf('.') + 1)] ?? 'text/plain').send(body);
    });
  }

  return app;
}

/** The contract's steps by stage: one step per stage until contracts declare parallel groups. */
/** The flow's columns: one per stage, the branches of a parallel group side by side in one (ADR 0017). */
function flowStages(contract: SagaContract | undefined): string[][] {
  return contract === undefined ? [] : contractStages(contract).map((st) => st.steps.map((s) => s.name));
}

/** A saga is one trace: the trace id of its earliest event that carries a `traceparent`. */
function sagaTraceId(events: readonly TrackedEvent[]): string | undefined {
  for (const e of events) {
    const m = e.traceparent === undefined ? null : /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/.exec(e.traceparent);
    if (m?.[1] !== undefined && !/^0+$/.test(m[1])) return m[1];
  }
  return undefined;
}

async function timelineEntry(
  e: TrackedEvent,
  codec: EventCodec | undefined,
  withPayloads: boolean,
  redact: Redactor,
): Promise<TimelineEntry> {
  const { payload, ...rest } = e;
  if (!withPayloads || payload === undefined) return rest;
  if (codec === undefined) {
    // Raw bytes cannot be redacted field by field: with redaction rules they are not shown at all.
    return redact.active
      ? { ...rest, payloadError: 'hidden: redaction needs a registry to decode the payload' }
      : { ...rest, payload: { base64: payload } };
  }
  try {
    return { ...rest, payload: redact.apply(e.type, (await codec.decode(Buffer.from(payload, 'base64'))).payload) };
  } catch (err) {
    return { ...rest, payloadError: (err as Error).message };
  }
}

/**
 * Server-sent events: one `saga` event per changed saga, with the change's feed id as the SSE id,
 * whichever tracker instance sharing the store ingested it. A client that reconnects with
 * `Last-Event-ID` (browsers do) gets what it missed; if that is no longer kept, a `reset` event
 * tells it to reload.
 */
function stream(
  reply: FastifyReply,
  store: SagaStore,
  o: { keepAliveMs: number; streams: Set<ServerResponse>; after: string | undefined },
): void {
  reply.hijack();
  const res: ServerResponse = reply.raw;
  o.streams.add(res);
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  res.write(`event: hello\ndata: ${JSON.stringify({ store: store.kind })}\n\n`);
  const stop = store.watch(
    {
      changes: (entries: readonly FeedEntry[]) => {
        res.write(entries.map((e) => `id: ${e.id}\nevent: saga\ndata: ${JSON.stringify(e.change)}\n\n`).join(''));
      },
      gap: () => {
        res.write(`event: reset\ndata: ${JSON.stringify({ after: o.after ?? null })}\n\n`);
      },
    },
    o.after !== undefined ? { after: o.after } : {},
  );
  const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), o.keepAliveMs);
  keepAlive.unref();
  res.on('close', () => {
    clearInterval(keepAlive);
    stop();
    o.streams.delete(res);
  });
}
