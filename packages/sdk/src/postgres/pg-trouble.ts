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
