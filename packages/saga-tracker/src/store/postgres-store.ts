import pg from 'pg';
import type { SagaContract } from '@troupe/core';
import { ContractBook } from '../contract-book.js';
import { TrackerError } from '../errors.js';
import { PROJECTION_VERSION, SAGA_STATUSES, compareEvents, project } from '../projection/index.js';
import type { DeviationKind, SagaProjection, SagaStatus, StepStatus } from '../projection/index.js';
import { stuckInfo } from '../stuck.js';
import { compareCopies, eventKey } from '../tracked-event.js';
import type { TrackedEvent } from '../tracked-event.js';
import { ChangeListeners } from './change-listeners.js';
import { PostgresChangeFeed } from './postgres-change-feed.js';
import { DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT } from './saga-store.js';
import type {
  ActivityBucket,
  ActivityQuery,
  ConsumedOffset,
  EventBatch,
  FlowGraph,
  ListQuery,
  ListedSaga,
  Page,
  SagaChange,
  FeedWatcher,
  WatchOptions,
  SagaDetail,
  SagaStore,
  PurgeResult,
  RetentionOptions,
  TypeCounts,
  TypeStats,
} from './saga-store.js';
import { searchFields } from './search.js';
import { emptyCounts } from './type-counts.js';
import { StepCounter, checkActivityQuery, emptyActivity } from './flow-counts.js';
import { decodeCursor, deviationKinds, encodeCursor, noDeviations, summarize } from './summary.js';

export interface PostgresStoreOptions {
  /** e.g. `postgres://user@host:5432/db`. */
  readonly connectionString: string;
  /** Schema holding the tracker's tables; created if missing. @default 'troupe_tracker' */
  readonly schema?: string;
  /** Contracts by saga type; sagas of other types are projected from headers alone. @default [] */
  readonly contracts?: readonly SagaContract[];
  /** Pool size. @default 4 */
  readonly maxConnections?: number;
  /** Attempts for a transaction aborted by a deadlock or serialization failure. @default 5 */
  readonly maxAttempts?: number;
  /** How long finished sagas and their payloads are kept, applied by {@link PostgresSagaStore.purge}. @default forever */
  readonly retention?: RetentionOptions;
}

/** Rows deleted (or stripped of payloads) per transaction by purge(), so no transaction grows large. */
const PURGE_BATCH = 1000;
const TERMINAL = ['completed', 'compensated', 'failed'];

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
// Deadlock and serialization failure: another tracker instance touched the same sagas; try again.
const RETRY_SQLSTATES = new Set(['40P01', '40001']);

interface SagaRow {
  saga_id: string;
  saga_type: string | null;
  status: SagaStatus | null;
  deviation_kinds: DeviationKind[];
}

/**
 * The durable store. Every saga is its set of events (table `events`, one row per event key) plus
 * the projection derived from it (table `sagas`); consumed offsets sit in `offsets` and are written
 * in the same transaction, so a restarted tracker resumes exactly after the last applied batch.
 *
 * Several trackers may share one database: each transaction inserts its events, then locks the
 * affected saga rows (in id order) and re-projects from ALL stored events of those sagas. Whoever
 * commits last has seen every committed event, so concurrent writers converge on one projection.
 */
export class PostgresSagaStore implements SagaStore {
  readonly kind = 'postgres' as const;
  private readonly listeners = new ChangeListeners();
  private readonly contracts: ContractBook;
  private readonly t: { events: string; sagas: string; offsets: string; counts: string };
  private readonly feed: PostgresChangeFeed;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly opts: Required<Pick<PostgresStoreOptions, 'schema' | 'maxAttempts'>> & PostgresStoreOptions,
  ) {
    this.contracts = new ContractBook(opts.contracts);
    const s = `"${opts.schema}"`;
    this.t = { events: `${s}.events`, sagas: `${s}.sagas`, offsets: `${s}.offsets`, counts: `${s}.counts` };
    this.feed = new PostgresChangeFeed({ pool, connectionString: opts.connectionString, schema: opts.schema });
  }

  static async create(opts: PostgresStoreOptions): Promise<PostgresSagaStore> {
    const schema = opts.schema ?? 'troupe_tracker';
    if (!SCHEMA_NAME.test(schema)) {
      throw new TrackerError('INVALID_OPTIONS', `postgres schema '${schema}' must be a lower-case SQL identifier (letters, digits, _).`);
    }
    const maxAttempts = opts.maxAttempts ?? 5;
    if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
      throw new TrackerError('INVALID_OPTIONS', `maxAttempts must be a positive integer, got ${maxAttempts}.`);
    }
    const pool = new pg.Pool({ connectionString: opts.connectionString, max: opts.maxConnections ?? 4 });
    // An idle client's error (database restarted) must not crash the process; the next query reports it.
    pool.on('error', () => undefined);
    const store = new PostgresSagaStore(pool, { ...opts, schema, maxAttempts });
    try {
      await store.migrate();
      await store.upgradeProjections();
    } catch (err) {
      await pool.end();
      throw new TrackerError(
        'STORE_UNAVAILABLE',
        `cannot prepare the tracker tables in PostgreSQL (${redact(opts.connectionString)}): ${(err as Error).message}. Check that the database is running and the user may create schema '${schema}'.`,
        { cause: err },
      );
    }
    return store;
  }

  private async migrate(): Promise<void> {
    const { events, sagas, offsets } = this.t;
    await this.transaction(async (c) => {
      // Two trackers starting at once must not race on CREATE.
      await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`troupe-tracker:${this.opts.schema}`]);
      await c.query(`CREATE SCHEMA IF NOT EXISTS "${this.opts.schema}"`);
      // "C" collation: ids sort by code point, exactly as the memory store sorts them.
      await c.query(`CREATE TABLE IF NOT EXISTS ${events} (
        saga_id text COLLATE "C" NOT NULL,
        key text COLLATE "C" NOT NULL,
        event jsonb NOT NULL,
        PRIMARY KEY (saga_id, key))`);
      await c.query(`CREATE TABLE IF NOT EXISTS ${sagas} (
        saga_id text COLLATE "C" PRIMARY KEY,
        saga_type text COLLATE "C",
        status text,
        started_at bigint,
        stuck_after bigint,
        projection jsonb)`);
      await c.query(`CREATE INDEX IF NOT EXISTS sagas_list ON ${sagas} (started_at DESC, saga_id DESC)`);
      await c.query(`CREATE INDEX IF NOT EXISTS sagas_type_status ON ${sagas} (saga_type, status)`);
      // Added after the first release: ALTER keeps existing databases usable.
      await c.query(`ALTER TABLE ${sagas} ADD COLUMN IF NOT EXISTS deviation_kinds text[] NOT NULL DEFAULT '{}'`);
      await c.query(`ALTER TABLE ${sagas} ADD COLUMN IF NOT EXISTS projection_version integer`);
      // Search (issue 14): attribute values, participants and event types behind GIN indexes.
      await c.query(`ALTER TABLE ${sagas} ADD COLUMN IF NOT EXISTS attributes jsonb NOT NULL DEFAULT '{}'`);
      await c.query(`ALTER TABLE ${sagas} ADD COLUMN IF NOT EXISTS participants text[] NOT NULL DEFAULT '{}'`);
      await c.query(`ALTER TABLE ${sagas} ADD COLUMN IF NOT EXISTS event_types text[] NOT NULL DEFAULT '{}'`);
      await c.query(`ALTER TABLE ${sagas} ADD COLUMN IF NOT EXISTS failure_reasons text NOT NULL DEFAULT ''`);
      await c.query(`CREATE INDEX IF NOT EXISTS sagas_attributes ON ${sagas} USING gin (attributes jsonb_path_ops)`);
      await c.query(`CREATE INDEX IF NOT EXISTS sagas_participants ON ${sagas} USING gin (participants)`);
      await c.query(`CREATE INDEX IF NOT EXISTS sagas_event_types ON ${sagas} USING gin (event_types)`);
      // Retention: finished sagas by end time; payloads not yet dropped.
      await c.query(`ALTER TABLE ${sagas} ADD COLUMN IF NOT EXISTS ended_at bigint`);
      await c.query(`ALTER TABLE ${sagas} ADD COLUMN IF NOT EXISTS payloads_dropped boolean NOT NULL DEFAULT false`);
      await c.query(`CREATE INDEX IF NOT EXISTS sagas_ended ON ${sagas} (ended_at) WHERE ended_at IS NOT NULL`);
      await c.query(`CREATE INDEX IF NOT EXISTS sagas_payloads ON ${sagas} (ended_at) WHERE ended_at IS NOT NULL AND NOT payloads_dropped`);
      // Stuck sagas are few: a scrape counts them through this index, not by scanning.
      await c.query(`CREATE INDEX IF NOT EXISTS sagas_stuck ON ${sagas} (stuck_after) WHERE stuck_after IS NOT NULL`);
      // Counters per type, kept in the same transaction as every change: metrics read, never scan.
      const created = await c.query<{ n: string }>(
        `SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'counts'`,
        [this.opts.schema],
      );
      await c.query(`CREATE TABLE IF NOT EXISTS ${this.t.counts} (
        saga_type text COLLATE "C" NOT NULL, key text COLLATE "C" NOT NULL, n bigint NOT NULL, PRIMARY KEY (saga_type, key))`);
      if (created.rows[0]?.n === '0') {
        // First start with counters on an existing database: count once from the stored sagas.
        await c.query(`INSERT INTO ${this.t.counts} (saga_type, key, n)
          SELECT saga_type, 'status:' || status, count(*) FROM ${sagas} WHERE status IS NOT NULL GROUP BY 1, 2
          UNION ALL SELECT saga_type, 'nonconforming', count(*) FROM ${sagas} WHERE cardinality(deviation_kinds) > 0 GROUP BY 1
          UNION ALL SELECT saga_type, 'deviation:' || k, count(*) FROM ${sagas}, unnest(deviation_kinds) AS k GROUP BY 1, 2`);
      }
      await c.query(
        `CREATE INDEX IF NOT EXISTS sagas_nonconforming ON ${sagas} (started_at DESC, saga_id DESC) WHERE cardinality(deviation_kinds) > 0`,
      );
      await c.query(`CREATE TABLE IF NOT EXISTS ${offsets} (
        group_id text NOT NULL,
        topic text NOT NULL,
        partition integer NOT NULL,
        next_offset bigint NOT NULL,
        PRIMARY KEY (group_id, topic, partition))`);
      await this.feed.migrate(c);
    });
  }

  /**
   * Re-projects, in batches, sagas stored by an older tracker (another {@link PROJECTION_VERSION}),
   * so fields added since (e.g. deviations) are there for every saga, not only for those that get
   * a new event.
   */
  private async upgradeProjections(): Promise<void> {
    for (;;) {
      const stale = await this.query<{ saga_id: string }>(
        `SELECT saga_id FROM ${this.t.sagas} WHERE status IS NOT NULL AND projection_version IS DISTINCT FROM $1 ORDER BY saga_id LIMIT 500`,
        [PROJECTION_VERSION],
      );
      if (stale.rows.length === 0) return;
      await this.transaction((c) =>
        this.reproject(
          c,
          stale.rows.map((r) => r.saga_id),
        ),
      );
    }
  }

  async apply(batch: EventBatch): Promise<SagaChange[]> {
    if (batch.offsets !== undefined && batch.offsets.length > 0 && batch.group === undefined) {
      throw new TrackerError('INVALID_OPTIONS', 'apply() with offsets needs the consumer group they belong to.');
    }
    // One row per key (the preferred copy): ON CONFLICT cannot touch a row twice in one statement.
    const unique = new Map<string, TrackedEvent>();
    for (const e of batch.events) {
      const k = `${e.sagaId}\u0000${eventKey(e)}`;
      const seen = unique.get(k);
      if (seen === undefined || compareCopies(e, seen) < 0) unique.set(k, e);
    }
    // Sorted, so concurrent instances take row locks in one order and cannot deadlock each other.
    const rows = [...unique.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, e]) => e);
    const changes = await this.transaction(async (c) => {
      // Only sagas that gained an event need re-projecting: another copy of a known event changes nothing.
      const grown = rows.length > 0 ? await this.insertEvents(c, rows) : [];
      const result = grown.length > 0 ? await this.reproject(c, grown) : [];
      if (batch.offsets !== undefined && batch.offsets.length > 0 && batch.group !== undefined) {
        await c.query(
          `INSERT INTO ${this.t.offsets} (group_id, topic, partition, next_offset)
           SELECT $1, * FROM unnest($2::text[], $3::int[], $4::bigint[])
           ON CONFLICT (group_id, topic, partition)
           DO UPDATE SET next_offset = GREATEST(${this.t.offsets}.next_offset, EXCLUDED.next_offset)`,
          [batch.group, batch.offsets.map((o) => o.topic), batch.offsets.map((o) => o.partition), batch.offsets.map((o) => o.next)],
        );
      }
      return result;
    });
    if (changes.length > 0) this.listeners.emit(changes);
    return changes;
  }

  /** Inserts events; returns the ids (sorted) of sagas that gained at least one new event. */
  private async insertEvents(c: pg.PoolClient, rows: readonly TrackedEvent[]): Promise<string[]> {
    const { events } = this.t;
    // A lower-coordinate copy replaces a stored one (same rule as compareCopies), so every store
    // and instance ends up holding the same copy whichever it read first.
    // One JSON document rather than a jsonb[] literal, whose element escaping showed up in
    // ingestion's CPU profile.
    const doc = JSON.stringify(rows.map((e) => ({ s: e.sagaId, k: eventKey(e), e })));
    const r = await c.query<{ saga_id: string; inserted: boolean }>(
      `INSERT INTO ${events} (saga_id, key, event)
       SELECT r->>'s', r->>'k', r->'e' FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS x(r, n) ORDER BY n
       ON CONFLICT (saga_id, key) DO UPDATE SET event = EXCLUDED.event
       WHERE (EXCLUDED.event->>'topic' COLLATE "C", (EXCLUDED.event->>'partition')::int, (EXCLUDED.event->>'offset')::numeric)
           < (${events}.event->>'topic' COLLATE "C", (${events}.event->>'partition')::int, (${events}.event->>'offset')::numeric)
       RETURNING saga_id, (xmax = 0) AS inserted`,
      [doc],
    );
    // xmax = 0 marks a fresh insert; a replaced copy is an update and changes no projection.
    return [...new Set(r.rows.filter((x) => x.inserted).map((x) => x.saga_id))].sort();
  }

  private async reproject(c: pg.PoolClient, sagaIds: readonly string[]): Promise<SagaChange[]> {
    const { events, sagas } = this.t;
    await c.query(`INSERT INTO ${sagas} (saga_id) SELECT unnest($1::text[]) ORDER BY 1 ON CONFLICT DO NOTHING`, [sagaIds]);
    const locked = await c.query<SagaRow>(
      `SELECT saga_id, saga_type, status, deviation_kinds FROM ${sagas} WHERE saga_id = ANY($1::text[]) ORDER BY saga_id FOR UPDATE`,
      [sagaIds],
    );
    // Read after locking: this snapshot includes every event committed by whoever held the lock.
    const stored = await c.query<{ saga_id: string; event: TrackedEvent }>(
      // Payloads are for the detail view only; the projection never reads them.
      `SELECT saga_id, event - 'payload' AS event FROM ${events} WHERE saga_id = ANY($1::text[])`,
      [sagaIds],
    );
    const bySaga = new Map<string, TrackedEvent[]>();
    for (const r of stored.rows) {
      let list = bySaga.get(r.saga_id);
      if (list === undefined) bySaga.set(r.saga_id, (list = []));
      list.push(r.event);
    }
    const changes: SagaChange[] = [];
    const updates: SagaProjection[] = [];
    const deltas = new CountDeltas();
    for (const row of locked.rows) {
      const evs = bySaga.get(row.saga_id);
      if (evs === undefined || evs.length === 0) continue;
      // Every saga here gained an event only this transaction can see, so its projection changes.
      const projection = project(evs, this.contracts.of);
      updates.push(projection);
      if (row.status !== null && row.saga_type !== null) deltas.add(row.saga_type, row.status, row.deviation_kinds, -1);
      deltas.add(projection.sagaType, projection.status, deviationKinds(projection), 1);
      changes.push({ ...(row.status !== null ? { previous: row.status } : {}), summary: summarize(projection) });
    }
    if (updates.length > 0) {
      const doc = JSON.stringify(
        updates.map((p) => ({
          id: p.sagaId,
          t: p.sagaType,
          st: p.status,
          sa: Date.parse(p.startedAt),
          sk: p.stuckAfter !== undefined ? Date.parse(p.stuckAfter) : null,
          ea: p.endedAt !== undefined && TERMINAL.includes(p.status) ? Date.parse(p.endedAt) : null,
          dk: deviationKinds(p),
          ...searchColumns(p),
          p,
        })),
      );
      await c.query(
        `UPDATE ${sagas} AS s SET saga_type = u->>'t', status = u->>'st', started_at = (u->>'sa')::bigint,
           stuck_after = (u->>'sk')::bigint, projection = u->'p', ended_at = (u->>'ea')::bigint, payloads_dropped = false,
           deviation_kinds = ARRAY(SELECT jsonb_array_elements_text(u->'dk')), projection_version = ${PROJECTION_VERSION},
           attributes = u->'p'->'attributes', participants = ARRAY(SELECT jsonb_array_elements_text(u->'pa')),
           event_types = ARRAY(SELECT jsonb_array_elements_text(u->'et')), failure_reasons = u->>'fr'
         FROM jsonb_array_elements($1::jsonb) AS u
         WHERE s.saga_id = u->>'id'`,
        [doc],
      );
    }
    await deltas.write(c, this.t.counts);
    // Last: the feed's counter row serialises commits from here on (see PostgresChangeFeed).
    await this.feed.record(c, changes);
    return changes;
  }

  async counts(opts: { type?: string; now: number }): Promise<TypeCounts[]> {
    const typeFilter = opts.type !== undefined ? 'WHERE saga_type = $1' : '';
    const rows = await this.query<{ saga_type: string; key: string; n: string }>(
      `SELECT saga_type, key, n FROM ${this.t.counts} ${typeFilter}`,
      opts.type !== undefined ? [opts.type] : [],
    );
    // Only stuck sagas are read, through the partial index on stuck_after.
    const stuck = await this.query<{ saga_type: string; n: string }>(
      `SELECT saga_type, count(*) AS n FROM ${this.t.sagas} WHERE stuck_after IS NOT NULL AND stuck_after <= $1
       ${opts.type !== undefined ? 'AND saga_type = $2' : ''} GROUP BY 1`,
      opts.type !== undefined ? [opts.now, opts.type] : [opts.now],
    );
    return countsFromRows(rows.rows, stuck.rows, opts.type);
  }

  /** Retention, in batches of {@link PURGE_BATCH} sagas per transaction, oldest end first. */
  async purge(now: number): Promise<PurgeResult> {
    const { finishedMs, payloadsMs } = this.opts.retention ?? {};
    let sagasDeleted = 0;
    let payloadsDropped = 0;
    if (finishedMs !== undefined) {
      for (;;) {
        const n = await this.transaction(async (c) => {
          const victims = await c.query<SagaRow>(
            `DELETE FROM ${this.t.sagas} WHERE saga_id IN (
               SELECT saga_id FROM ${this.t.sagas} WHERE ended_at IS NOT NULL AND ended_at < $1 AND status = ANY($2::text[])
               ORDER BY ended_at LIMIT ${PURGE_BATCH} FOR UPDATE SKIP LOCKED)
             RETURNING saga_id, saga_type, status, deviation_kinds`,
            [now - finishedMs, TERMINAL],
          );
          if (victims.rows.length === 0) return 0;
          await c.query(`DELETE FROM ${this.t.events} WHERE saga_id = ANY($1::text[])`, [victims.rows.map((r) => r.saga_id)]);
          const deltas = new CountDeltas();
          for (const r of victims.rows)
            if (r.status !== null && r.saga_type !== null) deltas.add(r.saga_type, r.status, r.deviation_kinds, -1);
          await deltas.write(c, this.t.counts);
          return victims.rows.length;
        });
        sagasDeleted += n;
        if (n < PURGE_BATCH) break;
      }
    }
    if (payloadsMs !== undefined) {
      for (;;) {
        const n = await this.transaction(async (c) => {
          const sagas = await c.query<{ saga_id: string }>(
            `UPDATE ${this.t.sagas} SET payloads_dropped = true WHERE saga_id IN (
               SELECT saga_id FROM ${this.t.sagas} WHERE ended_at IS NOT NULL AND ended_at < $1 AND NOT payloads_dropped
               ORDER BY ended_at LIMIT ${PURGE_BATCH} FOR UPDATE SKIP LOCKED)
             RETURNING saga_id`,
            [now - payloadsMs],
          );
          if (sagas.rows.length === 0) return { sagas: 0, events: 0 };
          const r = await c.query(
            `UPDATE ${this.t.events} SET event = event - 'payload' WHERE saga_id = ANY($1::text[]) AND event ? 'payload'`,
            [sagas.rows.map((x) => x.saga_id)],
          );
          return { sagas: sagas.rows.length, events: r.rowCount ?? 0 };
        });
        payloadsDropped += n.events;
        if (n.sagas < PURGE_BATCH) break;
      }
    }
    return { sagasDeleted, payloadsDropped };
  }

  async offsets(group: string): Promise<ConsumedOffset[]> {
    const r = await this.query<{ topic: string; partition: number; next: string }>(
      `SELECT topic, partition, next_offset::text AS next FROM ${this.t.offsets} WHERE group_id = $1 ORDER BY topic, partition`,
      [group],
    );
    return r.rows.map((o) => ({ topic: o.topic, partition: o.partition, next: o.next }));
  }

  async list(q: ListQuery): Promise<Page<ListedSaga>> {
    const limit = Math.min(q.limit ?? DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT);
    const where: string[] = ['status IS NOT NULL'];
    const params: unknown[] = [];
    const p = (v: unknown): string => {
      params.push(v);
      return `$${params.length}`;
    };
    if (q.type !== undefined) where.push(`saga_type = ${p(q.type)}`);
    if (q.status !== undefined && q.status.length > 0) where.push(`status = ANY(${p(q.status)}::text[])`);
    if (q.startedFrom !== undefined) where.push(`started_at >= ${p(q.startedFrom)}`);
    if (q.startedTo !== undefined) where.push(`started_at < ${p(q.startedTo)}`);
    if (q.idPrefix !== undefined) where.push(`starts_with(saga_id, ${p(q.idPrefix)})`);
    if (q.stuck === true) where.push(`stuck_after <= ${p(q.now)}`);
    if (q.stuck === false) where.push(`(stuck_after IS NULL OR stuck_after > ${p(q.now)})`);
    if (q.conforming === true) where.push('cardinality(deviation_kinds) = 0');
    if (q.conforming === false) where.push('cardinality(deviation_kinds) > 0');
    if (q.deviation !== undefined) where.push(`deviation_kinds @> ARRAY[${p(q.deviation)}]::text[]`);
    if (q.attributes !== undefined && Object.keys(q.attributes).length > 0)
      where.push(`attributes @> ${p(JSON.stringify(q.attributes))}::jsonb`);
    if (q.participant !== undefined) where.push(`participants @> ARRAY[${p(q.participant)}]::text[]`);
    if (q.eventType !== undefined) where.push(`event_types @> ARRAY[${p(q.eventType)}]::text[]`);
    if (q.reason !== undefined) where.push(`strpos(lower(failure_reasons), lower(${p(q.reason)})) > 0`);
    if (q.cursor !== undefined) {
      const after = decodeCursor(q.cursor);
      where.push(`(started_at, saga_id) < (${p(after.startedAt)}, ${p(after.sagaId)})`);
    }
    const r = await this.query<{ projection: SagaProjection }>(
      `SELECT projection FROM ${this.t.sagas} WHERE ${where.join(' AND ')}
       ORDER BY started_at DESC, saga_id DESC LIMIT ${p(limit + 1)}`,
      params,
    );
    const page = r.rows.slice(0, limit).map(({ projection }) => ({ ...summarize(projection), stuck: stuckInfo(projection, q.now) }));
    const last = page[page.length - 1];
    return {
      items: page,
      ...(r.rows.length > limit && last !== undefined
        ? { nextCursor: encodeCursor({ startedAt: Date.parse(last.startedAt), sagaId: last.sagaId }) }
        : {}),
    };
  }

  async get(sagaId: string): Promise<SagaDetail | undefined> {
    const s = await this.query<{ projection: SagaProjection }>(
      `SELECT projection FROM ${this.t.sagas} WHERE saga_id = $1 AND projection IS NOT NULL`,
      [sagaId],
    );
    const row = s.rows[0];
    if (row === undefined) return undefined;
    const e = await this.query<{ event: TrackedEvent }>(`SELECT event FROM ${this.t.events} WHERE saga_id = $1`, [sagaId]);
    return { projection: row.projection, events: e.rows.map((x) => x.event).sort(compareEvents) };
  }

  async stats(opts: { type?: string; now: number }): Promise<TypeStats[]> {
    const typeFilter = opts.type !== undefined ? 'AND saga_type = $2' : '';
    const counts = await this.query<{ saga_type: string; status: SagaStatus; n: string; stuck: string; nc: string }>(
      `SELECT saga_type, status, count(*) AS n, count(*) FILTER (WHERE stuck_after <= $1) AS stuck,
         count(*) FILTER (WHERE cardinality(deviation_kinds) > 0) AS nc
       FROM ${this.t.sagas} WHERE status IS NOT NULL ${typeFilter} GROUP BY saga_type, status`,
      opts.type !== undefined ? [opts.now, opts.type] : [opts.now],
    );
    const kinds = await this.query<{ saga_type: string; kind: DeviationKind; n: string }>(
      `SELECT saga_type, k AS kind, count(*) AS n FROM ${this.t.sagas}, unnest(deviation_kinds) AS k
       WHERE cardinality(deviation_kinds) > 0 ${opts.type !== undefined ? 'AND saga_type = $1' : ''} GROUP BY 1, 2`,
      opts.type !== undefined ? [opts.type] : [],
    );
    const latencies = await this.query<{ saga_type: string; step: string; n: string; p50: number; p95: number; p99: number }>(
      `SELECT saga_type, s->>'name' AS step, count(*) AS n,
         percentile_disc(0.5) WITHIN GROUP (ORDER BY (s->>'latencyMs')::float8) AS p50,
         percentile_disc(0.95) WITHIN GROUP (ORDER BY (s->>'latencyMs')::float8) AS p95,
         percentile_disc(0.99) WITHIN GROUP (ORDER BY (s->>'latencyMs')::float8) AS p99
       FROM ${this.t.sagas}, jsonb_array_elements(projection->'steps') AS s
       WHERE status IS NOT NULL AND s ? 'latencyMs' ${opts.type !== undefined ? 'AND saga_type = $1' : ''}
       GROUP BY saga_type, s->>'name'`,
      opts.type !== undefined ? [opts.type] : [],
    );
    type Counts = { -readonly [K in Exclude<keyof TypeStats, 'sagaType' | 'steps'>]: TypeStats[K] } & {
      byStatus: Record<SagaStatus, number>;
      deviations: Record<DeviationKind, number>;
    };
    const types = new Map<string, Counts>();
    const entry = (t: string): Counts => {
      let e = types.get(t);
      if (e === undefined) {
        const byStatus = Object.fromEntries(SAGA_STATUSES.map((s) => [s, 0])) as Record<SagaStatus, number>;
        e = { total: 0, byStatus, stuck: 0, nonConforming: 0, deviations: noDeviations() };
        types.set(t, e);
      }
      return e;
    };
    if (opts.type !== undefined) entry(opts.type);
    for (const r of counts.rows) {
      const e = entry(r.saga_type);
      e.total += Number(r.n);
      e.byStatus[r.status] = Number(r.n);
      e.stuck += Number(r.stuck);
      e.nonConforming += Number(r.nc);
    }
    for (const r of kinds.rows) entry(r.saga_type).deviations[r.kind] = Number(r.n);
    return [...types.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([sagaType, e]) => ({
        sagaType,
        ...e,
        steps: latencies.rows
          .filter((l) => l.saga_type === sagaType)
          .sort((a, b) => (a.step < b.step ? -1 : a.step > b.step ? 1 : 0))
          .map((l) => ({ step: l.step, count: Number(l.n), p50: l.p50, p95: l.p95, p99: l.p99 })),
      }));
  }

  async flow(type: string): Promise<FlowGraph> {
    const n = await this.query<{ n: string }>(`SELECT count(*) AS n FROM ${this.t.sagas} WHERE saga_type = $1`, [type]);
    const r = await this.query<{ from: string; to: string; n: string; p50: number; p95: number; p99: number }>(
      `SELECT f->>'from' AS "from", f->>'to' AS "to", count(*) AS n,
         percentile_disc(0.5) WITHIN GROUP (ORDER BY (f->>'latencyMs')::float8) AS p50,
         percentile_disc(0.95) WITHIN GROUP (ORDER BY (f->>'latencyMs')::float8) AS p95,
         percentile_disc(0.99) WITHIN GROUP (ORDER BY (f->>'latencyMs')::float8) AS p99
       FROM ${this.t.sagas}, jsonb_array_elements(projection->'flow') AS f
       WHERE saga_type = $1 GROUP BY 1, 2`,
      [type],
    );
    const steps = new StepCounter(this.contracts.latest(type));
    const byStatus = await this.query<{ step: string; status: StepStatus; n: string }>(
      `SELECT s->>'name' AS step, s->>'status' AS status, count(*) AS n
       FROM ${this.t.sagas}, jsonb_array_elements(projection->'steps') AS s WHERE saga_type = $1 GROUP BY 1, 2`,
      [type],
    );
    for (const x of byStatus.rows) steps.addCount(x.step, x.status, Number(x.n));
    const awaiting = await this.query<{ step: string; n: string }>(
      `SELECT a->>'step' AS step, count(*) AS n FROM ${this.t.sagas}, jsonb_array_elements(projection->'awaiting') AS a
       WHERE saga_type = $1 AND a ? 'step' GROUP BY 1`,
      [type],
    );
    for (const x of awaiting.rows) steps.addCount(x.step, 'awaiting', Number(x.n));
    const deviations = await this.query<{ step: string; n: string }>(
      `SELECT d->>'step' AS step, count(*) AS n FROM ${this.t.sagas}, jsonb_array_elements(projection->'deviations') AS d
       WHERE saga_type = $1 AND cardinality(deviation_kinds) > 0 AND d ? 'step' GROUP BY 1`,
      [type],
    );
    for (const x of deviations.rows) steps.addCount(x.step, 'deviations', Number(x.n));
    return {
      sagaType: type,
      sagas: Number(n.rows[0]?.n ?? 0),
      steps: steps.result(),
      edges: r.rows
        .sort((a, b) => (a.from < b.from ? -1 : a.from > b.from ? 1 : a.to < b.to ? -1 : a.to > b.to ? 1 : 0))
        .map((e) => ({ from: e.from, to: e.to, count: Number(e.n), p50: e.p50, p95: e.p95, p99: e.p99 })),
    };
  }

  /** Two index range reads: sagas started in the window (sagas_list), sagas ended in it (sagas_ended). */
  async activity(q: ActivityQuery): Promise<ActivityBucket[]> {
    checkActivityQuery(q);
    const out = emptyActivity(q);
    const to = q.from + q.buckets * q.bucketMs;
    const typeFilter = q.type !== undefined ? 'AND saga_type = $4' : '';
    const params = [q.from, to, q.bucketMs, ...(q.type !== undefined ? [q.type] : [])];
    const started = await this.query<{ b: string; n: string }>(
      `SELECT (started_at - $1) / $3 AS b, count(*) AS n FROM ${this.t.sagas}
       WHERE started_at >= $1 AND started_at < $2 AND status IS NOT NULL ${typeFilter} GROUP BY 1`,
      params,
    );
    for (const r of started.rows) {
      const b = out[Number(r.b)];
      if (b !== undefined) b.started = Number(r.n);
    }
    const ended = await this.query<{ b: string; status: SagaStatus; n: string }>(
      `SELECT (ended_at - $1) / $3 AS b, status, count(*) AS n FROM ${this.t.sagas}
       WHERE ended_at IS NOT NULL AND ended_at >= $1 AND ended_at < $2 ${typeFilter} GROUP BY 1, 2`,
      params,
    );
    for (const r of ended.rows) {
      const b = out[Number(r.b)];
      if (b !== undefined && (r.status === 'completed' || r.status === 'compensated' || r.status === 'failed')) b[r.status] = Number(r.n);
    }
    return out;
  }

  async types(): Promise<string[]> {
    const r = await this.query<{ saga_type: string }>(
      `SELECT DISTINCT saga_type FROM ${this.t.sagas} WHERE saga_type IS NOT NULL ORDER BY saga_type`,
    );
    return r.rows.map((x) => x.saga_type);
  }

  async ping(): Promise<void> {
    await this.query('SELECT 1');
  }

  onChange(listener: (changes: readonly SagaChange[]) => void): () => void {
    return this.listeners.add(listener);
  }

  watch(watcher: FeedWatcher, opts?: WatchOptions): () => void {
    return this.feed.watch(watcher, opts);
  }

  async close(): Promise<void> {
    this.listeners.clear();
    await this.feed.close();
    await this.pool.end();
  }

  private async query<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<pg.QueryResult<R>> {
    try {
      return await this.pool.query<R>(sql, params);
    } catch (err) {
      throw unavailable(err);
    }
  }

  private async transaction<T>(work: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      // A checked-out client has no listener of the pool's: a connection the server ends (restart,
      // pg_terminate_backend) would emit 'error' unhandled and end the process. Keep it and discard
      // the client. The listener goes on in connect's callback: after `await pool.connect()` a
      // server that terminated the connection right as it became ready has already had its FATAL
      // parsed (same socket read) and emitted with no listener.
      let broken: Error | undefined;
      const onError = (err: Error): void => {
        broken = err;
      };
      let client: pg.PoolClient;
      try {
        client = await new Promise<pg.PoolClient>((resolve, reject) => {
          this.pool.connect((err, c) => {
            c?.on('error', onError);
            if (err !== undefined && err !== null) reject(err instanceof Error ? err : new Error(String(err)));
            else if (c) resolve(c);
            else reject(new Error('the pool handed out no client'));
          });
        });
      } catch (err) {
        throw unavailable(err);
      }
      try {
        await client.query('BEGIN');
        const result = await work(client);
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        const code = (err as { code?: string }).code;
        if (code !== undefined && RETRY_SQLSTATES.has(code) && attempt < this.opts.maxAttempts) continue;
        if (code !== undefined && RETRY_SQLSTATES.has(code)) {
          throw new TrackerError(
            'STORE_CONFLICT',
            `PostgreSQL aborted the transaction ${attempt} times (${code}); another tracker instance keeps touching the same sagas. It will be retried with the batch.`,
            { cause: err },
          );
        }
        throw err instanceof TrackerError ? err : unavailable(err);
      } finally {
        client.off('error', onError);
        client.release(broken);
      }
    }
  }
}

/** Changes to the per-type counters of one transaction, written in key order (no deadlocks). */
class CountDeltas {
  private readonly d = new Map<string, { type: string; key: string; n: number }>();

  add(type: string, status: SagaStatus, kinds: readonly DeviationKind[], sign: 1 | -1): void {
    const keys = [`status:${status}`, ...(kinds.length > 0 ? ['nonconforming'] : []), ...kinds.map((k) => `deviation:${k}`)];
    for (const key of keys) {
      const k = `${type}\u0000${key}`;
      const e = this.d.get(k) ?? { type, key, n: 0 };
      e.n += sign;
      this.d.set(k, e);
    }
  }

  async write(c: pg.PoolClient, table: string): Promise<void> {
    const rows = [...this.d.entries()]
      .filter(([, e]) => e.n !== 0)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([, e]) => e);
    if (rows.length === 0) return;
    await c.query(
      `INSERT INTO ${table} (saga_type, key, n) SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])
       ON CONFLICT (saga_type, key) DO UPDATE SET n = ${table}.n + EXCLUDED.n`,
      [rows.map((r) => r.type), rows.map((r) => r.key), rows.map((r) => r.n)],
    );
  }
}

function countsFromRows(
  rows: readonly { saga_type: string; key: string; n: string }[],
  stuck: readonly { saga_type: string; n: string }[],
  type: string | undefined,
): TypeCounts[] {
  const byType = new Map<string, TypeCounts & { byStatus: Record<SagaStatus, number>; deviations: Record<DeviationKind, number> }>();
  const entry = (t: string) => {
    let e = byType.get(t);
    if (e === undefined) byType.set(t, (e = { ...emptyCounts(t), byStatus: { ...emptyCounts(t).byStatus }, deviations: noDeviations() }));
    return e;
  };
  if (type !== undefined) entry(type);
  for (const r of rows) {
    const e = entry(r.saga_type);
    const n = Number(r.n);
    if (r.key.startsWith('status:')) {
      e.byStatus[r.key.slice(7) as SagaStatus] = n;
      Object.assign(e, { total: e.total + n });
    } else if (r.key === 'nonconforming') Object.assign(e, { nonConforming: n });
    else if (r.key.startsWith('deviation:')) e.deviations[r.key.slice(10) as DeviationKind] = n;
  }
  for (const r of stuck) Object.assign(entry(r.saga_type), { stuck: Number(r.n) });
  return [...byType.values()].filter((e) => e.total > 0 || e.sagaType === type).sort((a, b) => (a.sagaType < b.sagaType ? -1 : 1));
}

/** The search columns of a saga row, as JSON fields of the update document. */
function searchColumns(p: SagaProjection): { pa: readonly string[]; et: readonly string[]; fr: string } {
  const f = searchFields(p);
  // One text per saga, reasons on separate lines: a substring never spans two reasons.
  return { pa: f.participants, et: f.eventTypes, fr: f.failureReasons.join('\n') };
}

function unavailable(err: unknown): TrackerError {
  if (err instanceof TrackerError) return err;
  return new TrackerError('STORE_UNAVAILABLE', `PostgreSQL query failed: ${(err as Error).message}. Check the database connection.`, {
    cause: err,
  });
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}
