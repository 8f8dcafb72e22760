import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import type { Logger } from 'pino';
import type { SagaContract } from '@troupe/core';
import type { EventCodec } from '@troupe/schema-registry';
import { TrackerError } from './errors.js';
import { buildTrackerApp } from './http/app.js';
import type { TrackerAuthOptions } from './http/auth.js';
import { KafkaIngest } from './ingest/kafka-ingest.js';
import type { KafkaIngestOptions } from './ingest/kafka-ingest.js';
import { TrackerMetrics } from './metrics.js';
import { MemorySagaStore } from './store/memory-store.js';
import { PostgresSagaStore } from './store/postgres-store.js';
import type { RetentionOptions, SagaStore } from './store/saga-store.js';
import { WebhookAlerts } from './alerts/webhook-alerts.js';
import type { WebhookAlertOptions } from './alerts/webhook-alerts.js';

export interface SagaTrackerOptions {
  /** Kafka bootstrap servers, `host:port`. */
  readonly brokers: readonly string[];
  /** Saga contracts: expected steps, compensability and time limits. @default [] */
  readonly contracts?: readonly SagaContract[];
  /** Topics to read (e.g. those of the contracts' event types). @default [] */
  readonly topics?: readonly string[];
  /** Also read every topic whose name matches. @default none */
  readonly topicPattern?: RegExp;
  /** Dead-letter topics. @default /\.dlq$/ */
  readonly deadLetterPattern?: RegExp;
  /**
   * `memory` (default: rebuilt by replaying the topics on every start) or `postgres`
   * (durable, resumes from stored offsets, shareable by several instances).
   * @default { kind: 'memory' }
   */
  readonly store?:
    | { readonly kind: 'memory'; readonly maxSagas?: number; readonly maxBytes?: number }
    | { readonly kind: 'postgres'; readonly url: string; readonly schema?: string };
  /**
   * How long finished sagas (and, shorter, their payloads) are kept; applied every `intervalMs`.
   * @default forever; intervalMs 60000
   */
  readonly retention?: RetentionOptions & { readonly intervalMs?: number };
  /** Webhook alerts for stuck, failed, compensation-failed and non-conforming sagas. @default none */
  readonly alerts?: Omit<WebhookAlertOptions, 'store' | 'now' | 'logger'>;
  /** Decodes payloads for the detail view and failure reasons. @default none */
  readonly codec?: EventCodec;
  /** @default see {@link KafkaIngestOptions.groupId} */
  readonly groupId?: string;
  /** HTTP port; 0 picks a free one. @default 8080 */
  readonly port?: number;
  /** @default '127.0.0.1' (only this machine: set `auth` before listening on other interfaces) */
  readonly host?: string;
  /** Link to each saga's trace: a URL with `{traceId}` (Jaeger, Tempo). @default none */
  readonly traceUrl?: string;
  /** Bearer tokens or JWT verification, payload access, redaction. @default open (local-only) */
  readonly auth?: TrackerAuthOptions;
  /** @default pino at level 'info' */
  readonly logger?: Logger;
  /** @default Date.now */
  readonly now?: () => number;
  /** Further ingestion settings. */
  readonly ingest?: Pick<
    KafkaIngestOptions,
    'topicWaitMs' | 'topicRefreshMs' | 'kafka' | 'clientId' | 'sessionTimeoutMs' | 'partitionsConsumedConcurrently'
  >;
}

/**
 * A running tracker: store, Kafka ingestion and HTTP server. `await SagaTracker.create(opts)`,
 * then `await tracker.close()`.
 */
export class SagaTracker {
  private constructor(
    readonly store: SagaStore,
    readonly ingest: KafkaIngest,
    readonly app: FastifyInstance,
    readonly url: string,
  ) {}

  static async create(opts: SagaTrackerOptions): Promise<SagaTracker> {
    const port = opts.port ?? 8080;
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new TrackerError('INVALID_OPTIONS', `port must be an integer from 0 to 65535, got ${port}.`);
    }
    const logger = opts.logger ?? pino({ name: 'troupe-tracker' });
    const now = opts.now ?? Date.now;
    const contracts = opts.contracts ?? [];
    const storeOpt = opts.store ?? { kind: 'memory' };
    const retention = opts.retention;
    if (retention?.finishedMs !== undefined && retention.payloadsMs !== undefined && retention.payloadsMs > retention.finishedMs) {
      throw new TrackerError('INVALID_OPTIONS', 'retention.payloadsMs must not exceed retention.finishedMs: payloads go with their saga.');
    }
    const store: SagaStore =
      storeOpt.kind === 'postgres'
        ? await PostgresSagaStore.create({
            connectionString: storeOpt.url,
            contracts,
            ...(storeOpt.schema !== undefined ? { schema: storeOpt.schema } : {}),
            ...(retention !== undefined ? { retention } : {}),
          })
        : await MemorySagaStore.create({
            contracts,
            logger,
            ...(storeOpt.maxSagas !== undefined ? { maxSagas: storeOpt.maxSagas } : {}),
            ...(storeOpt.maxBytes !== undefined ? { maxBytes: storeOpt.maxBytes } : {}),
            ...(retention !== undefined ? { retention } : {}),
          });
    const metrics = new TrackerMetrics(store, now);
    let ingest: KafkaIngest;
    try {
      ingest = await KafkaIngest.create({
        ...opts.ingest,
        brokers: opts.brokers,
        store,
        metrics,
        logger,
        topics: opts.topics ?? [],
        ...(opts.topicPattern !== undefined ? { topicPattern: opts.topicPattern } : {}),
        ...(opts.deadLetterPattern !== undefined ? { deadLetterPattern: opts.deadLetterPattern } : {}),
        ...(opts.groupId !== undefined ? { groupId: opts.groupId } : {}),
        ...(opts.codec !== undefined ? { codec: opts.codec } : {}),
        contracts,
      });
    } catch (err) {
      await store.close();
      throw err;
    }
    const app = buildTrackerApp({
      store,
      contracts,
      metrics,
      now,
      logger,
      health: () => ingest.health(),
      ...(opts.codec !== undefined ? { codec: opts.codec } : {}),
      ...(opts.auth !== undefined ? { auth: opts.auth } : {}),
      ...(opts.traceUrl !== undefined ? { traceUrl: opts.traceUrl } : {}),
    });
    try {
      await app.listen({ port, host: opts.host ?? '127.0.0.1' });
    } catch (err) {
      await ingest.close();
      await store.close();
      throw new TrackerError('INVALID_OPTIONS', `cannot listen on port ${port}: ${(err as Error).message}. Pick another --port.`, {
        cause: err,
      });
    }
    const addr = app.server.address() as AddressInfo;
    const tracker = new SagaTracker(store, ingest, app, `http://${addr.address}:${addr.port}`);
    if (retention?.finishedMs !== undefined || retention?.payloadsMs !== undefined) {
      // Several instances on one database may purge at once: batches skip rows another has locked.
      tracker.purgeTimer = setInterval(() => {
        store.purge(now()).then(
          (r) => {
            if (r.sagasDeleted + r.payloadsDropped > 0) logger.info(r, 'retention applied');
          },
          (err: unknown) => logger.warn({ err }, 'retention failed; will retry at the next interval'),
        );
      }, retention.intervalMs ?? 60_000);
      tracker.purgeTimer.unref();
    }
    if (opts.alerts !== undefined) tracker.alerts = new WebhookAlerts({ ...opts.alerts, store, now, logger });
    return tracker;
  }

  private purgeTimer: NodeJS.Timeout | undefined;
  /** The webhook alerter, when `alerts` was given. */
  alerts: WebhookAlerts | undefined;

  async close(): Promise<void> {
    clearInterval(this.purgeTimer);
    await this.alerts?.close();
    await this.app.close();
    await this.ingest.close();
    await this.store.close();
  }
}

/** The topics of the event types a set of contracts mentions, given each type's topic. */
export function topicsOfContracts(contracts: readonly SagaContract[], topicOf: (eventType: string) => string | undefined): string[] {
  const types = new Set<string>();
  for (const c of contracts) {
    types.add(c.start);
    types.add(c.end.completed);
    types.add(c.end.aborted);
    for (const s of c.steps) {
      for (const t of [s.completed, s.failed, s.compensated, s.compensationFailed]) if (t !== undefined) types.add(t);
    }
  }
  return [...new Set([...types].map(topicOf).filter((t): t is string => t !== undefined))].sort();
}
