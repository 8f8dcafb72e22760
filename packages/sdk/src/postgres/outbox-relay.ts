import { HEADER, OptionChecks } from '@troupe/core';
import type pg from 'pg';
import { pino, type Logger } from 'pino';
import { register as globalRegistry, type Registry } from 'prom-client';
import { describeError, throwIfInvalid } from '../errors.js';
import type { Transport } from '../transport/transport.js';
import { refusalOf } from '../participant/output-refusals.js';
import { recordOf, refusedRowDeadLetter, type OutboxRow } from './outbox-rows.js';
import { checkOut } from './pg-trouble.js';
import type { PostgresOutbox } from './postgres-outbox.js';
import { RelayMetrics } from './relay-metrics.js';
import { OUTBOX_SHARDS } from './schema-names.js';
import { Wakeup } from './wakeup.js';

export interface OutboxRelayOptions {
  readonly outbox: PostgresOutbox;
  /** Where the events go (a KafkaTransport; the memory transport for tests). */
  readonly transport: Transport;
  /**
   * Rows published per relay transaction.
   * @default 500
   */
  readonly batchSize?: number;
  /**
   * Shards one relay transaction takes (and locks). Fewer lets several relays share the work.
   * @default 8
   */
  readonly shardsPerBatch?: number;
  /**
   * Polling interval: the relay is woken by `NOTIFY` on every insert and looks anyway this often
   * (a missed notification, a broken LISTEN connection).
   * @default 1000
   */
  readonly pollIntervalMs?: number;
  /**
   * How long published rows are kept before they are purged (for inspection and re-sending).
   * @default 3_600_000 (an hour)
   */
  readonly retainPublishedMs?: number;
  /**
   * How long inbox rows are kept: a duplicate that arrives later than this is handled again.
   * @default 604_800_000 (7 days)
   */
  readonly inboxRetentionMs?: number;
  /** @default 60_000 */
  readonly purgeIntervalMs?: number;
  /**
   * Not ready while the oldest unpublished row is older than this.
   * @default 30_000
   */
  readonly readinessMaxAgeMs?: number;
  /** @default pino at level 'info' */
  readonly logger?: Logger;
  /** @default prom-client's global registry */
  readonly metricsRegistry?: Registry;
}

/** What the relay reports to health checks. */
export interface RelayHealth {
  readonly live: boolean;
  /** Live, the database reachable and the oldest unpublished row younger than `readinessMaxAgeMs`. */
  readonly ready: boolean;
  readonly details: Readonly<Record<string, string>>;
}

interface Settings {
  readonly batchSize: number;
  readonly shardsPerBatch: number;
  readonly pollIntervalMs: number;
  readonly retainPublishedMs: number;
  readonly inboxRetentionMs: number;
  readonly purgeIntervalMs: number;
  readonly readinessMaxAgeMs: number;
}

function settingsOf(opts: OutboxRelayOptions): Settings {
  const check = new OptionChecks();
  check.required('outbox', opts.outbox);
  check.required('transport', opts.transport);
  const s: Settings = {
    batchSize: check.int('batchSize', opts.batchSize ?? 500, { min: 1 }),
    shardsPerBatch: check.int('shardsPerBatch', opts.shardsPerBatch ?? 8, { min: 1, max: OUTBOX_SHARDS }),
    pollIntervalMs: check.int('pollIntervalMs', opts.pollIntervalMs ?? 1000, { min: 1 }),
    retainPublishedMs: check.int('retainPublishedMs', opts.retainPublishedMs ?? 3_600_000, { min: 0 }),
    inboxRetentionMs: check.int('inboxRetentionMs', opts.inboxRetentionMs ?? 604_800_000, { min: 0 }),
    purgeIntervalMs: check.int('purgeIntervalMs', opts.purgeIntervalMs ?? 60_000, { min: 1 }),
    readinessMaxAgeMs: check.int('readinessMaxAgeMs', opts.readinessMaxAgeMs ?? 30_000, { min: 1 }),
  };
  throwIfInvalid(check, 'OutboxRelay');
  return s;
}

/**
 * Publishes what committed transactions wrote to the outbox, in per-saga order, at least once
 * (a crash between the broker's ack and marking the rows repeats them, with the same `ce_id`).
 * Several relays may run on one outbox: each relay transaction locks the shards it publishes
 * (`FOR UPDATE SKIP LOCKED` on the shard rows), so one shard has one publisher at a time and a
 * relay that dies mid-way releases its shards with its connection (ADR 0014).
 *
 * ```ts
 * const relay = await OutboxRelay.create({ outbox, transport });
 * await relay.close();
 * ```
 */
export class OutboxRelay {
  private readonly s: Settings;
  private readonly logger: Logger;
  private readonly metrics: RelayMetrics;
  private readonly registry: Registry;
  private readonly wakeup = new Wakeup();
  private closed = false;
  private loopDone: Promise<void> = Promise.resolve();
  private listener: pg.PoolClient | undefined;
  private listenTimer: NodeJS.Timeout | undefined;
  private purgeTimer: NodeJS.Timeout | undefined;
  private rotation = 0;
  private consecutiveFailures = 0;
  private lastError: string | undefined;
  private publishedCount = 0;

  private constructor(private readonly opts: OutboxRelayOptions) {
    this.s = settingsOf(opts);
    this.logger = (opts.logger ?? pino({ name: 'outbox-relay', level: 'info' })).child({ outbox: opts.outbox.tables.schema });
    this.registry = opts.metricsRegistry ?? globalRegistry;
    this.metrics = new RelayMetrics(this.registry, opts.outbox.tables.schema, () => opts.outbox.backlog());
  }

  /** Starts a relay: listens for inserts, publishes, purges. */
  static create(opts: OutboxRelayOptions): Promise<OutboxRelay> {
    return new Promise((resolve) => {
      const relay = new OutboxRelay(opts);
      relay.listen();
      relay.loopDone = relay.loop();
      relay.purgeTimer = setInterval(() => void relay.purge(), relay.s.purgeIntervalMs);
      relay.purgeTimer.unref();
      resolve(relay);
    });
  }

  /** Rows this relay published since it started. */
  get published(): number {
    return this.publishedCount;
  }

  /**
   * Publishes one batch: locks up to `shardsPerBatch` shards with waiting rows (skipping shards
   * another relay holds), appends their oldest rows in insert order, marks them published and
   * commits. Resolves with the number of rows published (0 when nothing waited or all was locked).
   */
  async publishBatch(): Promise<number> {
    const { outbox } = this.opts;
    const t = outbox.tables;
    const client = await checkOut(outbox.pool);
    let broken: Error | undefined;
    const onError = (err: Error): void => {
      broken = err;
    };
    client.on('error', onError);
    try {
      await client.query('BEGIN');
      this.rotation = (this.rotation + this.s.shardsPerBatch) % OUTBOX_SHARDS;
      const shards = await client.query<{ shard: number }>(
        `SELECT s.shard FROM ${t.shards} s
          WHERE EXISTS (SELECT 1 FROM ${t.outbox} o WHERE o.shard = s.shard AND o.published_at IS NULL AND o.failed_at IS NULL)
          ORDER BY (s.shard + ${OUTBOX_SHARDS} - $1) % ${OUTBOX_SHARDS}
          LIMIT $2 FOR UPDATE SKIP LOCKED`,
        [this.rotation, this.s.shardsPerBatch],
      );
      if (shards.rows.length === 0) {
        await client.query('COMMIT');
        return 0;
      }
      const rows = await client.query<OutboxRow>(
        `SELECT id, topic, key, value, headers, created_at FROM ${t.outbox}
          WHERE published_at IS NULL AND failed_at IS NULL AND shard = ANY($1::int[]) ORDER BY id LIMIT $2`,
        [shards.rows.map((r) => r.shard), this.s.batchSize],
      );
      const sent = rows.rows.length > 0 ? await this.send(rows.rows) : { published: [], refused: [], trouble: undefined };
      if (sent.published.length > 0) {
        await client.query(`UPDATE ${t.outbox} SET published_at = now() WHERE id = ANY($1::bigint[])`, [sent.published.map((r) => r.id)]);
      }
      for (const { row, reason } of sent.refused) {
        await client.query(`UPDATE ${t.outbox} SET failed_at = now(), failure = $2 WHERE id = $1`, [row.id, reason]);
      }
      await client.query('COMMIT');
      const now = Date.now();
      const schema = t.schema;
      for (const r of sent.published) this.metrics.lag.observe({ outbox: schema }, Math.max(0, now - r.created_at.getTime()) / 1000);
      this.metrics.published.inc({ outbox: schema }, sent.published.length);
      if (sent.refused.length > 0) this.metrics.refused.inc({ outbox: schema }, sent.refused.length);
      this.publishedCount += sent.published.length;
      // What was sent or set aside is marked; the rest waits for the next round, after a back-off.
      if (sent.trouble !== undefined) throw sent.trouble;
      return sent.published.length + sent.refused.length;
    } catch (err) {
      if (broken === undefined)
        await client.query('ROLLBACK').catch((e: unknown) => (broken = e instanceof Error ? e : new Error(String(e))));
      throw err;
    } finally {
      client.off('error', onError);
      client.release(broken);
    }
  }

  /**
   * Appends `rows` in id order. When the broker refuses the batch for good (too large, invalid,
   * not authorised: the same refusals as a participant's commit, {@link refusalOf}), the rows are
   * sent again one at a time: a refused row is set aside (dead-lettered, then marked failed by the
   * caller) and the rows behind it — its saga's later events too — go on in order. A retriable
   * error during that pass stops it: what was decided so far is kept, the rest waits.
   */
  private async send(
    rows: readonly OutboxRow[],
  ): Promise<{ published: OutboxRow[]; refused: { row: OutboxRow; reason: string }[]; trouble: Error | undefined }> {
    const { transport } = this.opts;
    try {
      await transport.send(rows.map(recordOf));
      return { published: [...rows], refused: [], trouble: undefined };
    } catch (err) {
      if (refusalOf(err) === undefined) throw err;
    }
    const published: OutboxRow[] = [];
    const refused: { row: OutboxRow; reason: string }[] = [];
    for (const row of rows) {
      try {
        await transport.send([recordOf(row)]);
        published.push(row);
      } catch (err) {
        const reason = refusalOf(err);
        if (reason === undefined) return { published, refused, trouble: err instanceof Error ? err : new Error(String(err)) };
        refused.push({ row, reason });
        await this.setAside(row, reason);
      }
    }
    return { published, refused, trouble: undefined };
  }

  /**
   * Reports a row the broker refused for good: an error log and the dead-letter topic of its topic
   * (with its value, or without it when that is refused too). The dead letter is best effort: the
   * row's `failed_at` and `failure` are the lasting record.
   */
  private async setAside(row: OutboxRow, reason: string): Promise<void> {
    const headers = recordOf(row).headers;
    const about = { id: row.id, topic: row.topic, sagaId: headers[HEADER.sagaId]?.toString(), eventId: headers[HEADER.id]?.toString() };
    this.logger.error(
      { ...about, reason },
      'the broker refused an outbox row for good; it is marked failed and dead-lettered, the rows behind it go on (docs/outbox.md)',
    );
    for (const withValue of [true, false]) {
      try {
        await this.opts.transport.send([refusedRowDeadLetter(row, reason, withValue)]);
        return;
      } catch (err) {
        if (withValue && refusalOf(err) !== undefined) continue;
        this.logger.warn(
          { ...about, err: describeError(err) },
          'cannot dead-letter the refused outbox row; it stays marked failed in the outbox',
        );
        return;
      }
    }
  }

  private async loop(): Promise<void> {
    while (!this.closed) {
      let n: number;
      try {
        n = await this.publishBatch();
        if (this.consecutiveFailures > 0) this.logger.info('outbox relay recovered');
        this.consecutiveFailures = 0;
        this.lastError = undefined;
      } catch (err) {
        this.consecutiveFailures += 1;
        this.lastError = describeError(err);
        this.metrics.failures.inc({ outbox: this.opts.outbox.tables.schema });
        this.logger.warn({ err: this.lastError, failures: this.consecutiveFailures }, 'outbox relay round failed; trying again');
        await this.wakeup.sleep(Math.min(5000, 100 * 2 ** Math.min(this.consecutiveFailures, 6)));
        continue;
      }
      if (n === 0) await this.wakeup.sleep(this.s.pollIntervalMs);
    }
  }

  /** LISTEN on a connection of its own; reconnects after a while when it breaks (polling goes on meanwhile). */
  private listen(): void {
    if (this.closed) return;
    let mine: pg.PoolClient | undefined;
    const reconnect = (err: unknown): void => {
      // Once per LISTEN connection: a second error of the same client changes nothing.
      if (mine === undefined || this.listener !== mine) return;
      const client = mine;
      this.listener = undefined;
      client.release(err instanceof Error ? err : new Error(String(err)));
      if (this.closed) return;
      this.logger.warn({ err: describeError(err) }, 'outbox LISTEN connection lost; polling until it is back');
      this.listenTimer = setTimeout(() => this.listen(), this.s.pollIntervalMs);
      this.listenTimer.unref();
    };
    void (async () => {
      let client: pg.PoolClient | undefined;
      try {
        client = await checkOut(this.opts.outbox.pool);
        this.listener = client;
        mine = client;
        client.on('notification', () => this.wakeup.signal());
        client.on('error', reconnect);
        await client.query(`LISTEN ${this.opts.outbox.tables.channel}`);
        if (this.closed) this.unlisten();
        // Rows inserted while the connection was down woke nobody: look now.
        else this.wakeup.signal();
      } catch (err) {
        if (client && this.listener !== client) return;
        if (!client) {
          this.listenTimer = setTimeout(() => this.listen(), this.s.pollIntervalMs);
          this.listenTimer.unref();
          return;
        }
        reconnect(err);
      }
    })();
  }

  private unlisten(): void {
    const client = this.listener;
    this.listener = undefined;
    if (client) client.release(true);
  }

  private async purge(): Promise<void> {
    try {
      const n = await this.opts.outbox.purge(this.s.retainPublishedMs, this.s.inboxRetentionMs);
      if (n.outbox + n.inbox > 0) this.logger.debug(n, 'purged published outbox rows and old inbox rows');
    } catch (err) {
      this.logger.warn({ err: describeError(err) }, 'purging the outbox failed; trying again later');
    }
  }

  /** Liveness and readiness: the database reachable and the oldest waiting row young enough. */
  async health(): Promise<RelayHealth> {
    const details: Record<string, string> = {};
    const live = !this.closed;
    let ready = live;
    try {
      const b = await this.opts.outbox.backlog();
      details['pending'] = String(b.pending);
      details['oldestUnpublished'] = `${Math.round(b.oldestAgeMs)}ms`;
      if (b.oldestAgeMs > this.s.readinessMaxAgeMs) {
        ready = false;
        details['behind'] = `the oldest unpublished row is older than ${this.s.readinessMaxAgeMs}ms`;
      }
    } catch (err) {
      ready = false;
      details['database'] = `unreachable: ${describeError(err)}`;
    }
    try {
      // Not a readiness failure: the relay goes on past them; they need an operator, not a restart.
      const refused = await this.opts.outbox.refused();
      if (refused.count > 0) {
        details['refused'] =
          `${refused.count} row(s) the broker refused for good, marked failed and dead-lettered (latest: ${refused.latest ?? '?'}); ` +
          `see failed_at/failure in ${this.opts.outbox.tables.outbox}`;
      }
    } catch {
      // The database error is reported above.
    }
    details['listening'] = this.listener ? 'yes' : 'no (polling)';
    if (this.lastError !== undefined) details['lastError'] = this.lastError;
    return { live, ready, details };
  }

  /**
   * Stops after the batch in flight, then publishes what still waits (a few batches at most, so a
   * service shutting down leaves its last outputs published; what is left waits for the next
   * relay). Idempotent.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.purgeTimer);
    clearTimeout(this.listenTimer);
    this.wakeup.signal();
    await this.loopDone;
    for (let i = 0; i < 10; i++) if ((await this.publishBatch().catch(() => 0)) === 0) break;
    this.unlisten();
    RelayMetrics.forget(this.registry, this.opts.outbox.tables.schema);
  }
}
