import type pg from 'pg';
import { checkOut } from './pg-trouble.js';
import type { OutboxTables } from './schema-names.js';

/** One versioned step of the schema; applied once, in order, inside a transaction. */
export interface Migration {
  readonly version: number;
  readonly description: string;
  sql(t: OutboxTables, shards: number): string;
}

/** The schema's history. Append only: an applied migration is never edited (add a new version). */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'outbox, outbox shards with insert notification, inbox',
    sql: (t, shards) => `
      CREATE TABLE ${t.outbox} (
        id bigserial PRIMARY KEY,
        shard integer NOT NULL,
        saga_id text NOT NULL,
        event_id text NOT NULL,
        event_type text NOT NULL,
        topic text NOT NULL,
        key text,
        value bytea,
        headers jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        published_at timestamptz
      );
      CREATE INDEX outbox_unpublished ON ${t.outbox} (shard, id) WHERE published_at IS NULL;
      CREATE INDEX outbox_published ON ${t.outbox} (published_at) WHERE published_at IS NOT NULL;
      CREATE TABLE ${t.shards} (shard integer PRIMARY KEY);
      INSERT INTO ${t.shards} (shard) SELECT generate_series(0, ${shards - 1});
      CREATE FUNCTION ${t.schema}.notify_outbox() RETURNS trigger LANGUAGE plpgsql AS $fn$
        BEGIN PERFORM pg_notify('${t.channel}', ''); RETURN NULL; END
      $fn$;
      CREATE TRIGGER outbox_inserted AFTER INSERT ON ${t.outbox}
        FOR EACH STATEMENT EXECUTE FUNCTION ${t.schema}.notify_outbox();
      CREATE TABLE ${t.inbox} (
        consumer_group text NOT NULL,
        event_id text NOT NULL,
        handler text NOT NULL,
        saga_id text NOT NULL,
        handled_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (consumer_group, event_id, handler)
      );
      CREATE INDEX inbox_handled_at ON ${t.inbox} (handled_at);
    `,
  },
  {
    version: 2,
    description: 'outbox rows the broker refused for good: failed_at and failure, out of the waiting index',
    sql: (t) => `
      ALTER TABLE ${t.outbox} ADD COLUMN failed_at timestamptz, ADD COLUMN failure text;
      DROP INDEX ${t.schema}.outbox_unpublished;
      CREATE INDEX outbox_waiting ON ${t.outbox} (shard, id) WHERE published_at IS NULL AND failed_at IS NULL;
      CREATE INDEX outbox_failed ON ${t.outbox} (failed_at) WHERE failed_at IS NOT NULL;
    `,
  },
];

/** What `migrate` did. */
export interface MigrationReport {
  readonly schema: string;
  /** Versions applied by this call (empty when the schema was up to date). */
  readonly applied: readonly number[];
  /** The schema's version afterwards. */
  readonly version: number;
}

/** Arbitrary but fixed: serialises concurrent `migrate` calls on one database (key 2 = the schema's hash). */
const MIGRATION_LOCK = 0x7472_6f75;

/**
 * Brings the schema to the newest version: creates it and its migration table when missing, then
 * applies each missing version in its own transaction. Safe to run from several processes at once
 * (an advisory lock serialises them) and again and again (applied versions are skipped).
 */
export async function migrate(pool: pg.Pool, t: OutboxTables, shards: number): Promise<MigrationReport> {
  const client = await checkOut(pool);
  try {
    await client.query('SELECT pg_advisory_lock($1, hashtext($2))', [MIGRATION_LOCK, t.schema]);
    try {
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${t.schema}`);
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${t.migrations} (version integer PRIMARY KEY, description text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
      );
      const done = await client.query<{ version: number }>(`SELECT version FROM ${t.migrations}`);
      const have = new Set(done.rows.map((r) => r.version));
      const applied: number[] = [];
      for (const m of MIGRATIONS) {
        if (have.has(m.version)) continue;
        await client.query('BEGIN');
        try {
          await client.query(m.sql(t, shards));
          await client.query(`INSERT INTO ${t.migrations} (version, description) VALUES ($1, $2)`, [m.version, m.description]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw err;
        }
        applied.push(m.version);
      }
      return { schema: t.schema, applied, version: Math.max(0, ...have, ...applied) };
    } finally {
      await client.query('SELECT pg_advisory_unlock($1, hashtext($2))', [MIGRATION_LOCK, t.schema]).catch(() => undefined);
    }
  } finally {
    client.release();
  }
}

/** The newest version this SDK knows. */
export const LATEST_VERSION = Math.max(...MIGRATIONS.map((m) => m.version));

/** The schema's applied version; 0 when it has none (not migrated). */
export async function schemaVersion(pool: pg.Pool, t: OutboxTables): Promise<number> {
  const exists = await pool.query<{ present: boolean }>('SELECT to_regclass($1) IS NOT NULL AS present', [t.migrations]);
  if (exists.rows[0]?.present !== true) return 0;
  const res = await pool.query<{ version: number | null }>(`SELECT max(version) AS version FROM ${t.migrations}`);
  return res.rows[0]?.version ?? 0;
}
