import type { OutboundRecord } from './transport.js';

/** Kafka's default `max.message.bytes` of a topic (1 MiB plus the record batch overhead). */
export const DEFAULT_MAX_MESSAGE_BYTES = 1_048_588;

/** Bytes a record takes in a record batch of its own, rounded up (batch header, varints, headers). */
export function recordSize(r: OutboundRecord): number {
  const len = (x: string | Buffer | null): number => (x === null ? 0 : typeof x === 'string' ? Buffer.byteLength(x) : x.length);
  let size = 61 + 21 + len(r.key) + len(r.value);
  for (const [k, v] of Object.entries(r.headers)) size += 10 + Buffer.byteLength(k) + len(v);
  return size;
}

/**
 * At least {@link recordSize}, from lengths alone (a UTF-16 code unit takes at most 3 bytes in
 * UTF-8): a record within a limit by this bound needs no exact count. Checking every output's
 * exact size encoded a dozen header strings per event, ~2% of a participant's CPU in the step
 * bench's profile; outputs are almost always far below `max.message.bytes`.
 */
export function recordSizeBound(r: OutboundRecord): number {
  const len = (x: string | Buffer | null): number => (x === null ? 0 : typeof x === 'string' ? 3 * x.length : x.length);
  let size = 61 + 21 + len(r.key) + len(r.value);
  const headers = r.headers;
  for (const k in headers) size += 10 + 3 * k.length + len(headers[k] ?? null);
  return size;
}
