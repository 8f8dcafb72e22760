import { withRetries } from '@troupe/core';
import type { Logger } from 'pino';
import type { ListQuery, ListedSaga, SagaChange, SagaStore } from '../store/saga-store.js';

export const ALERT_KINDS = ['stuck', 'failed', 'compensation-failed', 'non-conforming'] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];

/** The JSON body POSTed to the webhook, once per saga and kind. */
export interface SagaAlert {
  readonly kind: AlertKind;
  readonly sagaId: string;
  readonly sagaType: string;
  readonly status: string;
  /** What happened, for a human: the stuck reason, the failure, or the deviation kinds. */
  readonly reason: string;
  /** When the tracker raised it (ISO-8601). */
  readonly at: string;
}

export interface WebhookAlertOptions {
  /** Where to POST alerts (JSON). */
  readonly url: string;
  readonly store: SagaStore;
  /** Kinds to send. @default all */
  readonly kinds?: readonly AlertKind[];
  /**
   * How often to look for stuck and non-conforming sagas. A deviation must still be there at a
   * check (not only between two topics' reads) to be alerted. @default 30000
   */
  readonly checkIntervalMs?: number;
  /**
   * A deviation is alerted only once this process has seen it at checks this far apart: one seen
   * while another topic lags behind (a step's event not read yet) disappears by then. @default 60000
   */
  readonly deviationGraceMs?: number;
  /** Delivery attempts per alert. @default 3 */
  readonly attempts?: number;
  /** @default Date.now */
  readonly now?: () => number;
  readonly logger?: Logger;
}

/** Remembered alert keys; the oldest are forgotten beyond this many (a saga alerted then would alert again). */
const MAX_REMEMBERED = 100_000;

/**
 * Sends one webhook call per saga and alert kind: failures as they are ingested, stuck and
 * non-conforming sagas at each check. De-duplication is per process: run alerts on one instance.
 */
export class WebhookAlerts {
  private readonly sent = new Set<string>();
  private readonly kinds: ReadonlySet<AlertKind>;
  private readonly stop: () => void;
  private readonly timer: NodeJS.Timeout;
  private pending: Promise<void> = Promise.resolve();
  private checking = false;
  /** Sagas seen deviating, and since when (this process's clock). */
  private readonly deviatingSince = new Map<string, number>();

  constructor(private readonly opts: WebhookAlertOptions) {
    this.kinds = new Set(opts.kinds ?? ALERT_KINDS);
    this.stop = opts.store.onChange((changes) => this.onChanges(changes));
    this.timer = setInterval(() => void this.check(), opts.checkIntervalMs ?? 30_000);
    this.timer.unref();
  }

  /** Alerts sent so far (keys `kind:sagaId`). */
  get sentCount(): number {
    return this.sent.size;
  }

  /** One check for stuck and non-conforming sagas now (also run on the interval). */
  async check(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      const now = (this.opts.now ?? Date.now)();
      if (this.kinds.has('stuck')) {
        for await (const s of this.all({ stuck: true, now })) this.raise('stuck', s, s.stuck.reason ?? 'stuck');
      }
      if (this.kinds.has('non-conforming')) {
        const seen = Date.now();
        const still = new Set<string>();
        for await (const s of this.all({ conforming: false, now })) {
          still.add(s.sagaId);
          const since = this.deviatingSince.get(s.sagaId) ?? seen;
          this.deviatingSince.set(s.sagaId, since);
          if (seen - since >= (this.opts.deviationGraceMs ?? 60_000)) {
            this.raise('non-conforming', s, `deviations: ${s.deviationKinds.join(', ')}`);
          }
        }
        for (const id of this.deviatingSince.keys()) if (!still.has(id)) this.deviatingSince.delete(id);
      }
    } catch (err) {
      this.opts.logger?.warn({ err }, 'alert check failed; will retry at the next interval');
    } finally {
      this.checking = false;
    }
    await this.pending;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    this.stop();
    await this.pending;
  }

  private onChanges(changes: readonly SagaChange[]): void {
    for (const c of changes) {
      if (c.summary.status !== 'failed' || c.previous === 'failed') continue;
      // Which failure it is needs the projection; failures are rare, so one read each.
      this.pending = this.pending.then(async () => {
        const detail = await this.opts.store.get(c.summary.sagaId);
        const f = detail?.projection.failures.find((x) => x.kind !== 'step-failed');
        const kind: AlertKind = f?.kind === 'compensation-failed' ? 'compensation-failed' : 'failed';
        const reason =
          f === undefined ? 'failed' : `${f.kind}${f.step !== undefined ? ` in ${f.step}` : ''}: ${f.reason ?? 'no reason given'}`;
        this.raise(kind, { ...c.summary, stuck: { stuck: false } }, reason);
      });
    }
  }

  private async *all(q: Omit<ListQuery, 'limit' | 'cursor'>): AsyncGenerator<ListedSaga> {
    let cursor: string | undefined;
    do {
      const page = await this.opts.store.list({ ...q, limit: 500, ...(cursor !== undefined ? { cursor } : {}) });
      yield* page.items;
      cursor = page.nextCursor;
    } while (cursor !== undefined);
  }

  private raise(kind: AlertKind, s: ListedSaga, reason: string): void {
    const key = `${kind}:${s.sagaId}`;
    if (!this.kinds.has(kind) || this.sent.has(key)) return;
    this.sent.add(key);
    if (this.sent.size > MAX_REMEMBERED) this.sent.delete(this.sent.values().next().value ?? key);
    const alert: SagaAlert = {
      kind,
      sagaId: s.sagaId,
      sagaType: s.sagaType,
      status: s.status,
      reason,
      at: new Date((this.opts.now ?? Date.now)()).toISOString(),
    };
    this.pending = this.pending.then(() => this.deliver(alert));
  }

  private async deliver(alert: SagaAlert): Promise<void> {
    const r = await withRetries(
      async () => {
        const res = await fetch(this.opts.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(alert),
          signal: AbortSignal.timeout(5_000),
        });
        if (!res.ok) throw new Error(`webhook answered HTTP ${res.status}`);
      },
      { attempts: this.opts.attempts ?? 3, delayMs: (n) => 200 * 2 ** n },
    );
    if (!r.ok) {
      this.opts.logger?.error({ err: r.error, alert }, `alert not delivered after ${r.attempts} attempts; check the webhook URL`);
    }
  }
}
