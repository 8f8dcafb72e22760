import { OptionChecks } from '@troupe/core';
import pg from 'pg';
import { SdkError, throwIfInvalid } from '../errors.js';
import type { OutboundRecord } from '../transport/transport.js';
import { LATEST_VERSION, migrate, schemaVersion, type MigrationReport } from './migrations.js';
import { ROW_COLUMNS, rowValues } from './outbox-rows.js';
import { asStoreTrouble, checkOut } from './pg-trouble.js';
import { OUTBOX_SHARDS, SQL_IDENTIFIER, outboxTables, type OutboxTables } from './schema-names.js';

/** A client inside an open transaction: what handlers get as `ctx.tx` and what `publish({ tx })` takes. */
export type TransactionClient = pg.ClientBase;

export interface PostgresOutboxOptions {
  /** A `postgres://` URL; ignored when `pool` is given. */
  readonly connectionString?: string;
  /** An existing pool to share with the service's own queries; `close()` does not end it. */
  readonly pool?: pg.Pool;
  /**
   * PostgreSQL schema holding the outbox, its shards, the inbox and the migration history.
   * @default 'troupe'
   */
  readonly schema?: string;
  /**
   * Apply missing migrations on `create` (safe with several instances starting at once). When
   * false, `create` refuses a schema that is not at this SDK's version and names the command
   * to run (`troupe-outbox migrate`).
   * @default true
   */
  readonly migrate?: boolean;
  /**
   * Connections of the pool created from `connectionString` (handler transactions hold one each).
   * @default 10
   */
  readonly poolSize?: number;
}

/** Rolls the transaction of a duplicate back; never leaves {@link PostgresOutbox.handle}. */
class AlreadyHandled extends Error {}

/** Rolls the probe of {@link PostgresOutbox.wasHandled} back, carrying its answer; never leaves it. */
class ProbeAnswer extends Error {
  constructor(readonly handled: boolean) {
    super('inbox probe');
  }
}

/** Identifies one handler's handling of one event in the inbox. */
export interface InboxKey {
  readonly consumerGroup: string;
  readonly eventId: string;
  readonly handler: string;
  readonly sagaId: string;
}

/** What the outbox holds right now (for metrics and readiness). */
export interface OutboxBacklog {
  readonly pending: number;
  /** Age of the oldest unpublished row in ms; 0 when nothing waits. */
  readonly oldestAgeMs: number;
}

/** Outbox rows the broker refused for good (ADR 0014, amendment). */
export interface OutboxRefusals {
  readonly count: number;
  /** The broker's reason for the newest of them. */
  readonly latest: string | undefined;
}

/**
 * The transactional outbox and inbox of one service on PostgreSQL. Events written with
 * {@link PostgresOutbox.append} inside the caller's transaction are published to Kafka by an
 * {@link OutboxRelay} after the transaction commits — never when it rolls back.
 *
 * ```ts
 * const outbox = await PostgresOutbox.create({ connectionString: 'postgres://localhost/shop' });
 * await outbox.transaction(async (tx) => {
 *   await tx.query('INSERT INTO orders (id) VALUES ($1)', ['o-1']);
 *   await publisher.publish(OrderPlaced, { orderId: 'o-1' }, { sagaId: 'o-1', tx });
 * });
 * ```
 */
export class PostgresOutbox {
  readonly tables: OutboxTables;
  /** What `create` migrated (undefined when created with `migrate: false`). */
  migrated: MigrationReport | undefined;

  private constructor(
    readonly pool: pg.Pool,
    schema: string,
    private readonly ownsPool: boolean,
  ) {
    this.tables = outboxTables(schema);
  }

  static async create(opts: PostgresOutboxOptions): Promise<PostgresOutbox> {
    const schema = opts.schema ?? 'troupe';
    const check = new OptionChecks();
    check.matches('schema', schema, SQL_IDENTIFIER, 'a lower-case SQL identifier (letters, digits, _)');
    if (!opts.pool && !opts.connectionString) check.add('connectionString or pool is required');
    const poolSize = check.int('poolSize', opts.poolSize ?? 10, { min: 1 });
    throwIfInvalid(check, 'PostgresOutbox');
    const pool = opts.pool ?? new pg.Pool({ connectionString: opts.connectionString, max: poolSize });
    // An idle pooled connection that breaks (server restart) must not crash the process.
    if (!opts.pool) pool.on('error', () => undefined);
    const outbox = new PostgresOutbox(pool, schema, !opts.pool);
    try {
      if (opts.migrate ?? true) outbox.migrated = await outbox.migrate();
      else await outbox.requireMigrated();
    } catch (err) {
      await outbox.close();
      if (err instanceof SdkError) throw err;
      throw new SdkError('OUTBOX_STORE_ERROR', `cannot prepare the outbox in schema ${schema}: is PostgreSQL reachable?`, { cause: err });
    }
    return outbox;
  }

  /** Applies missing migrations (see `troupe-outbox migrate`). */
  migrate(): Promise<MigrationReport> {
    return migrate(this.pool, this.tables, OUTBOX_SHARDS);
  }

  private async requireMigrated(): Promise<void> {
    const version = await schemaVersion(this.pool, this.tables);
    if (version < LATEST_VERSION) {
      throw new SdkError(
        'OUTBOX_NOT_MIGRATED',
        `the outbox schema ${this.tables.schema} is at version ${version}, this SDK needs ${LATEST_VERSION}: ` +
          `run \`troupe-outbox migrate --schema ${this.tables.schema}\` (or create the outbox with migrate: true)`,
      );
    }
  }

  /**
   * Runs `fn` in a transaction on a pooled connection: committed when `fn` resolves, rolled back
   * when it throws. Database trouble (connection lost, server restarting) surfaces as the
   * retriable OUTBOX_STORE_ERROR; errors of `fn` itself are rethrown unchanged.
   */
  async transaction<R>(fn: (tx: TransactionClient) => Promise<R>): Promise<R> {
    let client: pg.PoolClient;
    try {
      client = await checkOut(this.pool);
    } catch (err) {
      throw asStoreTrouble(err, 'connecting');
    }
    let broken: Error | undefined;
    const onError = (err: Error): void => {
      broken = err;
    };
    client.on('error', onError);
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      if (broken === undefined)
        await client.query('ROLLBACK').catch((e: unknown) => (broken = e instanceof Error ? e : new Error(String(e))));
      throw asStoreTrouble(err, 'running a transaction');
    } finally {
      client.off('error', onError);
      client.release(broken);
    }
  }

  /** Writes records to the outbox inside the caller's transaction; the relay publishes them after it commits. */
  async append(tx: TransactionClient, records: readonly OutboundRecord[]): Promise<void> {
    if (records.length === 0) return;
    const values: unknown[] = [];
    const tuples: string[] = [];
    for (const r of records) {
      const row = rowValues(r);
      tuples.push(`(${row.map((_, i) => `$${values.length + i + 1}`).join(', ')})`);
      values.push(...row);
    }
    await tx.query(`INSERT INTO ${this.tables.outbox} (${ROW_COLUMNS}) VALUES ${tuples.join(', ')}`, values);
  }

  /**
   * Records in the caller's transaction that a handler handled an event. Resolves false when the
   * inbox already has it (handled and committed before): the caller rolls back and skips it.
   * A concurrent transaction with the same key makes this wait until that one ends.
   */
  async recordHandled(tx: TransactionClient, key: InboxKey): Promise<boolean> {
    const res = await tx.query(
      `INSERT INTO ${this.tables.inbox} (consumer_group, event_id, handler, saga_id) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
      [key.consumerGroup, key.eventId, key.handler, key.sagaId],
    );
    return res.rowCount === 1;
  }

  /**
   * One handler run as a unit: the inbox row, whatever `work` does with `tx`, and the records it
   * returns (into the outbox) commit together. Resolves 'duplicate' without running `work` when
   * the inbox already holds the key.
   */
  async handle(key: InboxKey, work: (tx: TransactionClient) => Promise<readonly OutboundRecord[]>): Promise<'handled' | 'duplicate'> {
    try {
      await this.transaction(async (tx) => {
        if (!(await this.recordHandled(tx, key))) throw new AlreadyHandled();
        await this.append(tx, await work(tx));
      });
      return 'handled';
    } catch (err) {
      if (err instanceof AlreadyHandled) return 'duplicate';
      throw err;
    }
  }

  /**
   * Whether the inbox holds the key, without writing it: the probe inserts the row and always rolls
   * back, so (unlike a plain SELECT) it waits for a concurrent transaction holding the same key —
   * an attempt that timed out but is still committing — and sees how that one ended.
   */
  async wasHandled(key: InboxKey): Promise<boolean> {
    try {
      await this.transaction(async (tx) => {
        throw new ProbeAnswer(!(await this.recordHandled(tx, key)));
      });
    } catch (err) {
      if (err instanceof ProbeAnswer) return err.handled;
      throw err;
    }
    return false;
  }

  /** Rows waiting for the relay and the age of the oldest. */
  async backlog(): Promise<OutboxBacklog> {
    const res = await this.pool.query<{ pending: string; oldest_ms: number | null }>(
      `SELECT count(*) AS pending, (extract(epoch FROM now() - min(created_at)) * 1000)::float8 AS oldest_ms FROM ${this.tables.outbox} WHERE published_at IS NULL AND failed_at IS NULL`,
    );
    const row = res.rows[0];
    return { pending: Number(row?.pending ?? 0), oldestAgeMs: Math.max(0, row?.oldest_ms ?? 0) };
  }

  /**
   * Rows the broker refused for good (marked failed by a relay, never published): how many, and the
   * newest one's reason. They stay until deleted by hand (`DELETE FROM <schema>.outbox WHERE failed_at IS NOT NULL`).
   */
  async refused(): Promise<OutboxRefusals> {
    const res = await this.pool.query<{ n: string; latest: string | null }>(
      `SELECT count(*) AS n, (SELECT failure FROM ${this.tables.outbox} WHERE failed_at IS NOT NULL ORDER BY failed_at DESC, id DESC LIMIT 1) AS latest
         FROM ${this.tables.outbox} WHERE failed_at IS NOT NULL`,
    );
    const row = res.rows[0];
    return { count: Number(row?.n ?? 0), latest: row?.latest ?? undefined };
  }

  /** Deletes published rows older than `olderThanMs` and inbox rows older than `inboxOlderThanMs`; resolves with the counts. */
  async purge(olderThanMs: number, inboxOlderThanMs: number): Promise<{ readonly outbox: number; readonly inbox: number }> {
    const outbox = await this.pool.query(
      `DELETE FROM ${this.tables.outbox} WHERE published_at IS NOT NULL AND published_at < now() - make_interval(secs => $1::float8 / 1000)`,
      [olderThanMs],
    );
    const inbox = await this.pool.query(
      `DELETE FROM ${this.tables.inbox} WHERE handled_at < now() - make_interval(secs => $1::float8 / 1000)`,
      [inboxOlderThanMs],
    );
    return { outbox: outbox.rowCount ?? 0, inbox: inbox.rowCount ?? 0 };
  }

  /** Ends the pool if the outbox created it. */
  async close(): Promise<void> {
    if (this.ownsPool) await this.pool.end();
  }
}
