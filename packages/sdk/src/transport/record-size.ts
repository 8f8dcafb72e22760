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
