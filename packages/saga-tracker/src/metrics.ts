import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { DEVIATION_KINDS, SAGA_STATUSES } from './projection/index.js';
import type { SagaStore, TypeCounts } from './store/saga-store.js';

/**
 * The tracker's Prometheus metrics, in a registry of its own (not prom-client's global one) so
 * several trackers in one process, or the host application's metrics, do not collide.
 */
export class TrackerMetrics {
  readonly registry = new Registry();
  readonly eventsIngested: Counter<'topic'>;
  readonly messagesRejected: Counter<'topic' | 'reason'>;
  readonly deadLetters: Counter<'topic'>;
  readonly applySeconds: Histogram;
  readonly httpRequests: Counter<'route' | 'status'>;

  constructor(store: SagaStore, now: () => number) {
    const registers = [this.registry];
    // Process CPU, memory and event-loop lag: the first things to look at when ingestion lags.
    collectDefaultMetrics({ register: this.registry, prefix: 'troupe_tracker_' });
    this.eventsIngested = new Counter({
      name: 'troupe_tracker_events_ingested_total',
      help: 'Saga events read from Kafka and applied to the store',
      labelNames: ['topic'],
      registers,
    });
    this.messagesRejected = new Counter({
      name: 'troupe_tracker_messages_rejected_total',
      help: 'Kafka records skipped because their headers are not a saga event envelope',
      labelNames: ['topic', 'reason'],
      registers,
    });
    this.deadLetters = new Counter({
      name: 'troupe_tracker_dead_letters_total',
      help: 'Records read from dead-letter topics',
      labelNames: ['topic'],
      registers,
    });
    this.applySeconds = new Histogram({
      name: 'troupe_tracker_apply_seconds',
      help: 'Time to apply one consumed batch to the store',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers,
    });
    this.httpRequests = new Counter({
      name: 'troupe_tracker_http_requests_total',
      help: 'HTTP requests served',
      labelNames: ['route', 'status'],
      registers,
    });
    // Both gauges read one counts() answer per scrape: counters the store keeps, never a scan.
    let scrape: Promise<TypeCounts[]> | undefined;
    const stats = (): Promise<TypeCounts[]> =>
      (scrape ??= store.counts({ now: now() }).finally(() => setImmediate(() => (scrape = undefined))));
    new Gauge({
      name: 'troupe_tracker_nonconforming_sagas',
      help: 'Sagas that deviate from their contract, by type and deviation kind (a saga may count under several kinds)',
      labelNames: ['saga_type', 'kind'],
      registers,
      async collect() {
        this.reset();
        for (const t of await stats()) for (const k of DEVIATION_KINDS) this.set({ saga_type: t.sagaType, kind: k }, t.deviations[k]);
      },
    });
    new Gauge({
      name: 'troupe_tracker_sagas',
      help: 'Sagas in the store by type and status (stuck counted separately)',
      labelNames: ['saga_type', 'status'],
      registers,
      async collect() {
        this.reset();
        for (const t of await stats()) {
          for (const s of SAGA_STATUSES) this.set({ saga_type: t.sagaType, status: s }, t.byStatus[s]);
          this.set({ saga_type: t.sagaType, status: 'stuck' }, t.stuck);
        }
      },
    });
  }
}
