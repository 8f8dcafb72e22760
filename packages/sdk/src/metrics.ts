import type { Registry } from 'prom-client';
import { Counter, Gauge, Histogram } from 'prom-client';

/** The participant's Prometheus instruments, registered on the registry it was given. */
export class ParticipantMetrics {
  readonly handled: Counter<'participant' | 'type' | 'outcome'>;
  readonly failed: Counter<'participant' | 'type'>;
  readonly retried: Counter<'participant' | 'type'>;
  readonly deadLettered: Counter<'participant' | 'reason'>;
  readonly duration: Histogram<'participant' | 'type'>;
  readonly lag: Gauge<'participant'>;

  constructor(
    readonly registry: Registry,
    participant: string,
    lag: () => Promise<number | undefined>,
  ) {
    const registers = [registry];
    this.handled = new Counter({
      name: 'troupe_events_handled_total',
      help: 'Events handled, by outcome (ok, gave-up, skipped)',
      labelNames: ['participant', 'type', 'outcome'],
      registers,
    });
    this.failed = new Counter({
      name: 'troupe_handler_failures_total',
      help: 'Handler attempts that threw',
      labelNames: ['participant', 'type'],
      registers,
    });
    this.retried = new Counter({
      name: 'troupe_handler_retries_total',
      help: 'In-place retries of a handler',
      labelNames: ['participant', 'type'],
      registers,
    });
    this.deadLettered = new Counter({
      name: 'troupe_dead_letters_total',
      help: 'Events sent to a dead-letter topic, by reason',
      labelNames: ['participant', 'reason'],
      registers,
    });
    this.duration = new Histogram({
      name: 'troupe_handler_duration_seconds',
      help: 'Handler duration per attempt',
      labelNames: ['participant', 'type'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10],
      registers,
    });
    this.lag = new Gauge({
      name: 'troupe_consumer_lag',
      help: 'Messages behind the end of the owned partitions',
      labelNames: ['participant'],
      registers,
      async collect() {
        const value = await lag();
        if (value !== undefined) this.set({ participant }, value);
      },
    });
  }
}
