import type { OutboundRecord } from '../transport/transport.js';

/**
 * What handling one consumed record came to; the batch loop acts on it.
 * - `done`: commit the record with `outputs`.
 * - `not-due`: the record waits until `dueAt` (a retry record not due yet, an open circuit);
 *   commit what is before it.
 * - `transient`: infrastructure trouble; commit what is before it, deliver it again.
 */
export type MessageOutcome =
  | { readonly kind: 'done'; readonly outputs: readonly OutboundRecord[] }
  | { readonly kind: 'not-due'; readonly dueAt: number }
  | { readonly kind: 'transient'; readonly reason: string };

export const done = (outputs: readonly OutboundRecord[]): MessageOutcome => ({ kind: 'done', outputs });
