import type pg from 'pg';
import { SdkError } from '../errors.js';

/**
 * SQLSTATE classes and codes that mean "the database, not the statement": the connection broke,
 * the server is shutting down or restarting, or the transaction lost a race it can win next time.
 */
const TROUBLE_CLASSES = ['08', '53', '57P'];
const TROUBLE_CODES = new Set(['40001', '40P01', '55P03']);

/** True when `err` is PostgreSQL (or the connection to it) failing rather than the user's SQL being wrong. */
export function isDatabaseTrouble(err: unknown): boolean {
  if (err instanceof SdkError) return err.code === 'OUTBOX_STORE_ERROR';
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (TROUBLE_CODES.has(code) || TROUBLE_CLASSES.some((c) => code.startsWith(c))) return true;
    if (/^E(CONNREFUSED|CONNRESET|PIPE|TIMEDOUT|HOSTUNREACH)$/.test(code)) return true;
  }
  return /Connection terminated|connection error|Client has encountered a connection error|Client was closed/i.test(err.message);
}

/** `err` as OUTBOX_STORE_ERROR (retriable) when it is database trouble, else unchanged. */
export function asStoreTrouble(err: unknown, doing: string): unknown {
  if (!isDatabaseTrouble(err) || err instanceof SdkError) return err;
  return new SdkError('OUTBOX_STORE_ERROR', `PostgreSQL failed while ${doing}; the work is rolled back and tried again`, { cause: err });
}

const guarded = new WeakSet<object>();

/**
 * Gives a pooled client a lasting `error` listener (once per client). A connection the server ends
 * (restart, `pg_terminate_backend`) can emit `error` while no query runs and after the pool let go
 * of it; without a listener that is an unhandled `error` event and ends the process. The failure
 * itself surfaces through the query that hits it.
 */
export function guardClient<C extends { on(event: 'error', listener: (err: Error) => void): unknown }>(client: C): C {
  if (!guarded.has(client)) {
    guarded.add(client);
    client.on('error', () => undefined);
  }
  return client;
}

/**
 * Checks a client out of `pool` with a lasting `error` listener attached before anything else can
 * run. `guardClient(await pool.connect())` is too late: the pool hands the client over (without
 * its idle listener) inside the socket read that brought ReadyForQuery, and a server that ends the
 * connection right then (pg_terminate_backend during an outage) has its FATAL message parsed in
 * the same read — an `error` event with no listener, before the awaiting code runs, which ends
 * the process. The callback form of `connect` runs inside that read, ahead of the FATAL.
 */
export function checkOut(pool: pg.Pool): Promise<pg.PoolClient> {
  return new Promise((resolve, reject) => {
    pool.connect((err, client) => {
      if (client) guardClient(client);
      if (err !== undefined && err !== null) reject(err instanceof Error ? err : new Error(String(err)));
      else if (client) resolve(client);
      else reject(new Error('the pool handed out no client'));
    });
  });
}
