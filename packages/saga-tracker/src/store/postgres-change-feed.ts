import { createHash } from 'node:crypto';
import pg from 'pg';
import { DEFAULT_FEED_RETAIN, deliver, parseFeedId } from './change-feed.js';
import type { FeedEntry, FeedWatcher, SagaChange, WatchOptions } from './saga-store.js';

const PAGE = 1000;
const RECONNECT_MS = [250, 500, 1000, 2000, 5000];

/**
 * The change feed of a PostgreSQL store, shared by every tracker instance on the database.
 *
 * Writing: each transaction that changes sagas takes the next ids from a one-row counter, inserts
 * its changes into `changes` and calls `pg_notify` — all before COMMIT. The counter row stays
 * locked until the commit, so ids are dense and in commit order: a reader that has seen id n has
 * seen every id below it, and `Last-Event-ID` resume is "ids above n".
 *
 * Reading: one dedicated connection LISTENs; a notification (delivered after the writer's commit,
 * whichever instance wrote) makes the feed read the new rows and hand them to its watchers. A lost
 * connection is re-opened and the feed catches up from the last id it delivered.
 */
export class PostgresChangeFeed {
  readonly channel: string;
  private readonly watchers = new Map<FeedWatcher, { pos: number }>();
  private listener: pg.Client | undefined;
  private starting: Promise<void> | undefined;
  /** The last id handed to the watchers. */
  private delivered = 0;
  /** Every read runs in this chain, so catch-ups and live pages never interleave. */
  private chain: Promise<void> = Promise.resolve();
  private closed = false;
  private reconnects = 0;

  private readonly pool: pg.Pool;
  private readonly connectionString: string;
  private readonly t: { readonly changes: string; readonly head: string };
  private readonly retain: number;

  constructor(o: {
    readonly pool: pg.Pool;
    readonly connectionString: string;
    /** The tracker's schema: its tables hold the feed, its name picks the channel. */
    readonly schema: string;
    /** How many of the latest changes are kept for resuming watchers. @default 10000 */
    readonly retain?: number;
  }) {
    this.pool = o.pool;
    this.connectionString = o.connectionString;
    this.t = { changes: `"${o.schema}".changes`, head: `"${o.schema}".change_head` };
    this.retain = o.retain ?? DEFAULT_FEED_RETAIN;
    this.channel = `troupe_changes_${createHash('sha1').update(o.schema).digest('hex').slice(0, 16)}`;
  }

  /** DDL for the feed's tables; run inside the store's migration transaction. */
  async migrate(c: pg.PoolClient): Promise<void> {
    await c.query(`CREATE TABLE IF NOT EXISTS ${this.t.changes} (seq bigint PRIMARY KEY, change jsonb NOT NULL)`);
    await c.query(`CREATE TABLE IF NOT EXISTS ${this.t.head} (one boolean PRIMARY KEY DEFAULT true CHECK (one), seq bigint NOT NULL)`);
    await c.query(`INSERT INTO ${this.t.head} (seq) VALUES (0) ON CONFLICT DO NOTHING`);
  }

  /**
   * Appends changes inside the caller's transaction. Call it after every other row lock the
   * transaction takes (the counter row serialises the commits of all instances from here on).
   */
  async record(c: pg.PoolClient, changes: readonly SagaChange[]): Promise<void> {
    if (changes.length === 0) return;
    const r = await c.query<{ seq: string }>(`UPDATE ${this.t.head} SET seq = seq + $1 RETURNING seq`, [changes.length]);
    const head = Number(r.rows[0]?.seq ?? 0);
    const first = head - changes.length + 1;
    await c.query(
      `INSERT INTO ${this.t.changes} (seq, change) SELECT $1::bigint + n - 1, x FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS a(x, n)`,
      [first, JSON.stringify(changes)],
    );
    // Pruned when the head crosses a multiple of PAGE: one index range delete now and then.
    if (Math.floor(head / PAGE) !== Math.floor((first - 1) / PAGE)) {
      await c.query(`DELETE FROM ${this.t.changes} WHERE seq <= $1`, [head - this.retain]);
    }
    await c.query('SELECT pg_notify($1, $2)', [this.channel, String(head)]);
  }

  watch(watcher: FeedWatcher, opts: WatchOptions = {}): () => void {
    const after = opts.after === undefined ? undefined : parseFeedId(opts.after);
    const unknown = opts.after !== undefined && after === undefined;
    void this.start().then(
      () =>
        void this.enqueue(async () => {
          if (this.closed) return;
          const state = { pos: this.delivered };
          if (unknown || (after !== undefined && after > this.delivered)) watcher.gap?.();
          else if (after !== undefined && after < this.delivered) {
            // Catch up to where the live pages are, then join them.
            const rows = await this.read(after, this.delivered);
            if (rows[0]?.id !== String(after + 1)) watcher.gap?.();
            deliver(watcher, rows);
          }
          this.watchers.set(watcher, state);
        }),
      () => watcher.gap?.(),
    );
    return () => {
      this.watchers.delete(watcher);
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.watchers.clear();
    await this.chain;
    const l = this.listener;
    this.listener = undefined;
    await l?.end().catch(() => undefined);
  }

  /** Opens the LISTEN connection once, lazily: a store nobody watches holds no extra connection. */
  private start(): Promise<void> {
    this.starting ??= this.connect().catch((err: unknown) => {
      this.starting = undefined;
      throw err;
    });
    return this.starting;
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.connectionString });
    client.on('error', () => this.lost(client));
    client.on('end', () => this.lost(client));
    client.on('notification', (n) => {
      if (n.channel === this.channel) void this.enqueue(() => this.pump());
    });
    await client.connect();
    // LISTEN before reading the head: a commit in between is then both counted and notified.
    await client.query(`LISTEN ${this.channel}`);
    this.listener = client;
    const head = await this.pool.query<{ seq: string }>(`SELECT seq FROM ${this.t.head}`);
    const seq = Number(head.rows[0]?.seq ?? 0);
    // First start: from the head. After a reconnect: from the last delivered id (pump catches up).
    if (this.reconnects === 0 && this.delivered === 0) this.delivered = seq;
    this.reconnects = 0;
    void this.enqueue(() => this.pump());
  }

  private lost(client: pg.Client): void {
    if (this.listener !== client || this.closed) return;
    this.listener = undefined;
    this.starting = undefined;
    this.reconnect();
  }

  private reconnect(): void {
    const delay = RECONNECT_MS[Math.min(this.reconnects, RECONNECT_MS.length - 1)] ?? 5000;
    this.reconnects++;
    setTimeout(() => {
      if (!this.closed) void this.start().catch(() => this.reconnect());
    }, delay).unref();
  }

  private enqueue(work: () => Promise<void>): Promise<void> {
    const next = this.chain.then(work, work).catch(() => undefined);
    this.chain = next;
    return next;
  }

  /** Reads everything after `delivered` and hands it to the watchers, a page at a time. */
  private async pump(): Promise<void> {
    for (;;) {
      if (this.closed) return;
      const rows = await this.read(this.delivered, undefined);
      if (rows.length === 0) return;
      for (const [w, state] of this.watchers) {
        const fresh = rows.filter((r) => Number(r.id) > state.pos);
        deliver(w, fresh);
        state.pos = Number(rows[rows.length - 1]?.id ?? state.pos);
      }
      this.delivered = Number(rows[rows.length - 1]?.id ?? this.delivered);
      if (rows.length < PAGE) return;
    }
  }

  private async read(after: number, upTo: number | undefined): Promise<FeedEntry[]> {
    const r = await this.pool.query<{ seq: string; change: SagaChange }>(
      `SELECT seq, change FROM ${this.t.changes} WHERE seq > $1 ${upTo !== undefined ? 'AND seq <= $2' : ''} ORDER BY seq LIMIT ${PAGE}`,
      upTo !== undefined ? [after, upTo] : [after],
    );
    const rows = r.rows.map((x) => ({ id: x.seq, change: x.change }));
    if (upTo !== undefined && rows.length === PAGE) {
      const last = Number(rows[rows.length - 1]?.id ?? upTo);
      if (last < upTo) rows.push(...(await this.read(last, upTo)));
    }
    return rows;
  }
}
