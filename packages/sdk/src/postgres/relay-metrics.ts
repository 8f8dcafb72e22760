import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { OutboxBacklog } from './postgres-outbox.js';

type BacklogSource = () => Promise<OutboxBacklog>;

/** Backlog callbacks per registry and outbox schema: one gauge per registry serves every relay on it. */
const backlogSources = new WeakMap<Registry, Map<string, BacklogSource>>();

function metric<T>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

/** Reads every registered outbox's backlog once per scrape. */
async function collectBacklogs(registry: Registry): Promise<Map<string, OutboxBacklog | undefined>> {
  const out = new Map<string, OutboxBacklog | undefined>();
  for (const [schema, source] of backlogSources.get(registry) ?? []) out.set(schema, await source().catch(() => undefined));
  return out;
}

/** The relay's Prometheus instruments; series carry the outbox's schema as label `outbox`. */
export class RelayMetrics {
  readonly published: Counter<'outbox'>;
  readonly failures: Counter<'outbox'>;
  /** Rows the broker refused for good: marked failed and dead-lettered instead of published. */
  readonly refused: Counter<'outbox'>;
  /** Time from a row's insert to its publication. */
  readonly lag: Histogram<'outbox'>;

  constructor(registry: Registry, schema: string, backlog: BacklogSource) {
    const registers = [registry];
    this.published = metric(
      registry,
      'troupe_outbox_published_total',
      () =>
        new Counter({ name: 'troupe_outbox_published_total', help: 'Outbox rows published to Kafka', labelNames: ['outbox'], registers }),
    );
    this.failures = metric(
      registry,
      'troupe_outbox_relay_failures_total',
      () =>
        new Counter({
          name: 'troupe_outbox_relay_failures_total',
          help: 'Relay rounds that failed (database or broker trouble) and were tried again',
          labelNames: ['outbox'],
          registers,
        }),
    );
    this.refused = metric(
      registry,
      'troupe_outbox_refused_total',
      () =>
        new Counter({
          name: 'troupe_outbox_refused_total',
          help: 'Outbox rows the broker refused for good (too large, invalid, not authorised): marked failed and dead-lettered',
          labelNames: ['outbox'],
          registers,
        }),
    );
    this.lag = metric(
      registry,
      'troupe_outbox_relay_lag_seconds',
      () =>
        new Histogram({
          name: 'troupe_outbox_relay_lag_seconds',
          help: 'Seconds from an outbox row being written to its publication',
          labelNames: ['outbox'],
          buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
          registers,
        }),
    );
    let sources = backlogSources.get(registry);
    if (!sources) backlogSources.set(registry, (sources = new Map<string, BacklogSource>()));
    sources.set(schema, backlog);
    metric(
      registry,
      'troupe_outbox_pending',
      () =>
        new Gauge({
          name: 'troupe_outbox_pending',
          help: 'Outbox rows not yet published',
          labelNames: ['outbox'],
          registers,
          async collect() {
            for (const [s, b] of await collectBacklogs(registry)) if (b) this.set({ outbox: s }, b.pending);
          },
        }),
    );
    metric(
      registry,
      'troupe_outbox_oldest_unpublished_seconds',
      () =>
        new Gauge({
          name: 'troupe_outbox_oldest_unpublished_seconds',
          help: 'Age of the oldest outbox row not yet published (0 when none waits)',
          labelNames: ['outbox'],
          registers,
          async collect() {
            for (const [s, b] of await collectBacklogs(registry)) if (b) this.set({ outbox: s }, b.oldestAgeMs / 1000);
          },
        }),
    );
  }

  /** Stops reporting this outbox's backlog (the relay closed). */
  static forget(registry: Registry, schema: string): void {
    backlogSources.get(registry)?.delete(schema);
  }
}
