import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

type LagSource = () => Promise<number | undefined>;
type FillSource = () => ReadonlyMap<number, number>;

/**
 * What a gauge reads when scraped, per registry and participant: one gauge per registry serves all
 * participants on it.
 */
class GaugeSources<S> {
  private readonly byRegistry = new WeakMap<Registry, Map<string, S>>();

  of(registry: Registry): Map<string, S> {
    let sources = this.byRegistry.get(registry);
    if (!sources) {
      sources = new Map();
      this.byRegistry.set(registry, sources);
    }
    return sources;
  }
}

const lagSources = new GaugeSources<LagSource>();
const fillSources = new GaugeSources<FillSource>();

function metric<T>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

/**
 * The participant's Prometheus instruments. Participants may share a registry (the default is
 * prom-client's global one, so a service's existing `/metrics` shows them); series are told
 * apart by the `participant` label.
 */
export class ParticipantMetrics {
  readonly handled: Counter<'participant' | 'type' | 'outcome'>;
  readonly failed: Counter<'participant' | 'type'>;
  readonly retried: Counter<'participant' | 'type'>;
  readonly deadLettered: Counter<'participant' | 'reason'>;
  readonly duplicates: Counter<'participant' | 'type'>;
  /** Dead-letter replays addressed to this participant, handled or refused (ADR 0012). */
  readonly replays: Counter<'participant' | 'outcome'>;
  readonly duration: Histogram<'participant' | 'type'>;
  readonly lag: Gauge<'participant'>;
  readonly circuitState: Gauge<'participant' | 'circuit'>;
  /** Ids the inbox forgot because a partition's window was full (ADR 0011). */
  readonly inboxEvictions: Counter<'participant'>;
  readonly inboxFill: Gauge<'participant' | 'partition'>;

  constructor(
    readonly registry: Registry,
    readonly participant: string,
    lag: LagSource,
  ) {
    const registers = [registry];
    this.handled = metric(
      registry,
      'troupe_events_handled_total',
      () =>
        new Counter({
          name: 'troupe_events_handled_total',
          help: 'Events handled, by outcome (ok, gave-up, skipped)',
          labelNames: ['participant', 'type', 'outcome'],
          registers,
        }),
    );
    this.failed = metric(
      registry,
      'troupe_handler_failures_total',
      () =>
        new Counter({
          name: 'troupe_handler_failures_total',
          help: 'Handler attempts that threw',
          labelNames: ['participant', 'type'],
          registers,
        }),
    );
    this.retried = metric(
      registry,
      'troupe_handler_retries_total',
      () =>
        new Counter({
          name: 'troupe_handler_retries_total',
          help: 'In-place retries of a handler',
          labelNames: ['participant', 'type'],
          registers,
        }),
    );
    this.deadLettered = metric(
      registry,
      'troupe_dead_letters_total',
      () =>
        new Counter({
          name: 'troupe_dead_letters_total',
          help: 'Events sent to a dead-letter topic, by reason',
          labelNames: ['participant', 'reason'],
          registers,
        }),
    );
    this.duplicates = metric(
      registry,
      'troupe_duplicates_total',
      () =>
        new Counter({
          name: 'troupe_duplicates_total',
          help: 'Input events recognised by the inbox as already handled (same ce_id) and skipped',
          labelNames: ['participant', 'type'],
          registers,
        }),
    );
    this.replays = metric(
      registry,
      'troupe_replays_total',
      () =>
        new Counter({
          name: 'troupe_replays_total',
          help: 'Replayed dead letters addressed to the participant: outcome admitted (then handled once, or dropped by the inbox) or refused (saga already failed)',
          labelNames: ['participant', 'outcome'],
          registers,
        }),
    );
    this.duration = metric(
      registry,
      'troupe_handler_duration_seconds',
      () =>
        new Histogram({
          name: 'troupe_handler_duration_seconds',
          help: 'Handler duration per attempt',
          labelNames: ['participant', 'type'],
          buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10],
          registers,
        }),
    );
    this.circuitState = metric(
      registry,
      'troupe_circuit_state',
      () =>
        new Gauge({
          name: 'troupe_circuit_state',
          help: 'Circuit breaker state per handler or downstream: 0 closed, 1 half-open, 2 open',
          labelNames: ['participant', 'circuit'],
          registers,
        }),
    );
    this.inboxEvictions = metric(
      registry,
      'troupe_inbox_evictions_total',
      () =>
        new Counter({
          name: 'troupe_inbox_evictions_total',
          help: 'Event ids the inbox forgot because their partition window was full: a duplicate of them is no longer recognised',
          labelNames: ['participant'],
          registers,
        }),
    );
    const fills = fillSources.of(registry);
    this.inboxFill = metric(
      registry,
      'troupe_inbox_window_ids',
      () =>
        new Gauge({
          name: 'troupe_inbox_window_ids',
          help: 'Event ids the inbox remembers per owned partition number (at most its window)',
          labelNames: ['participant', 'partition'],
          registers,
          collect() {
            // Partitions move between members: only the ones owned now are reported.
            this.reset();
            for (const [name, fill] of fills)
              for (const [partition, ids] of fill()) this.set({ participant: name, partition: String(partition) }, ids);
          },
        }),
    );
    const all = lagSources.of(registry);
    all.set(participant, lag);
    this.lag = metric(
      registry,
      'troupe_consumer_lag',
      () =>
        new Gauge({
          name: 'troupe_consumer_lag',
          help: 'Messages behind the end of the owned partitions (transaction markers included)',
          labelNames: ['participant'],
          registers,
          async collect() {
            for (const [name, source] of all) {
              const value = await source();
              if (value !== undefined) this.set({ participant: name }, value);
            }
          },
        }),
    );
  }

  /** The participant's inbox window fill, read when scraped. */
  watchInboxFill(fill: FillSource): void {
    fillSources.of(this.registry).set(this.participant, fill);
  }
}
