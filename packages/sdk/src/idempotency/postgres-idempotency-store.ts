import pg from 'pg';
import { SdkError, throwIfInvalid } from '../errors.js';
import { OptionChecks } from '@troupe/core';
import type { IdempotencyStore } from './idempotency-store.js';

export interface PostgresIdempotencyStoreOptions {
  /** A `postgres://` URL; ignored when `pool` is given. */
  readonly connectionString?: string;
  /** An existing pool to share; it is not ended by `close()`. */
  readonly pool?: pg.Pool;
  /**
   * Table holding the results; created if missing.
   * @default 'troupe_idempotency'
   */
  readonly table?: string;
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/** Durable results in PostgreSQL; several participant instances may share one table. */
export class PostgresIdempotencyStore implements IdempotencyStore {
  private constructor(
    private readonly pool: pg.Pool,
    private readonly table: string,
    private readonly ownsPool: boolean,
  ) {}

  static async create(opts: PostgresIdempotencyStoreOptions): Promise<PostgresIdempotencyStore> {
    const table = opts.table ?? 'troupe_idempotency';
    const check = new OptionChecks();
    check.matches('table', table, IDENTIFIER, 'a lower-case SQL identifier (letters, digits, _)');
    if (!opts.pool && !opts.connectionString) check.add('connectionString or pool is required');
    throwIfInvalid(check, 'PostgresIdempotencyStore');
    const pool = opts.pool ?? new pg.Pool({ connectionString: opts.connectionString, max: 4 });
    // An idle connection the server drops (restart, failover, pg_terminate_backend) is reported as a
    // pool 'error'; unhandled, it would kill the process. The pool replaces it; queries that fail
    // meanwhile reject and are retried by the handler's retries.
    if (!opts.pool) pool.on('error', () => undefined);
    try {
      await pool.query(
        `CREATE TABLE IF NOT EXISTS ${table} (key text PRIMARY KEY, result jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now())`,
      );
    } catch (err) {
      if (!opts.pool) await pool.end();
      throw new SdkError(
        'IDEMPOTENCY_STORE_ERROR',
        `cannot prepare table ${table}: is PostgreSQL reachable and may this user create tables?`,
        {
          cause: err,
        },
      );
    }
    return new PostgresIdempotencyStore(pool, table, !opts.pool);
  }

  async get(key: string): Promise<{ readonly value: unknown } | undefined> {
    const res = await this.query<{ result: { v?: unknown } }>(`SELECT result FROM ${this.table} WHERE key = $1`, [key]);
    const row = res.rows[0];
    return row ? { value: row.result.v } : undefined;
  }

  async putIfAbsent(key: string, value: unknown): Promise<unknown> {
    await this.query(`INSERT INTO ${this.table} (key, result) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING`, [
      key,
      JSON.stringify({ v: value }),
    ]);
    const stored = await this.get(key);
    return stored?.value;
  }

  async close(): Promise<void> {
    if (this.ownsPool) await this.pool.end();
  }

  private async query<R extends pg.QueryResultRow>(sql: string, params: unknown[]): Promise<pg.QueryResult<R>> {
    try {
      return await this.pool.query<R>(sql, params);
    } catch (err) {
      throw new SdkError('IDEMPOTENCY_STORE_ERROR', `idempotency store query failed (${this.table}); the event will be retried`, {
        cause: err,
      });
    }
  }
}
