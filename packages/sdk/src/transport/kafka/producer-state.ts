import { errorTypes } from './access-errors.js';

/**
 * Errors after which an idempotent producer's sequence state no longer matches the broker's (a
 * partition leader moved or the broker forgot the producer id). kafkajs keeps using the same
 * producer id and sequence, so every later send fails the same way; only a new producer (a new
 * producer id) recovers.
 */
const STATE_LOST = new Set(['OUT_OF_ORDER_SEQUENCE_NUMBER', 'UNKNOWN_PRODUCER_ID', 'INVALID_PRODUCER_EPOCH']);

/** Whether `err` says the idempotent producer must be replaced before the next send. */
export function producerStateLost(err: unknown): boolean {
  return errorTypes(err).some((t) => STATE_LOST.has(t));
}
