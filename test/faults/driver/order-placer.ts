import { setTimeout as sleep } from 'node:timers/promises';
import { postOrder } from '../../../examples/order-fulfillment/src/services/order-api.js';
import { orderFor, pickScenario, type FailureRates } from '../../../examples/order-fulfillment/src/world.js';
import type { EndingScenario, GroundTruth } from './ground-truth.js';

export interface PlacerOptions {
  /** The order service's HTTP API (`POST /orders`). */
  readonly ordersUrl: string;
  readonly truth: GroundTruth;
  readonly random: () => number;
  /** Saga ids are `<prefix><n>`. */
  readonly sagaIdPrefix: string;
  /** Orders per second. */
  readonly rate: number;
  /** Orders to place. */
  readonly sagas: number;
  /** Unhappy shares (the silent carrier is never placed: those sagas do not end by themselves). */
  readonly rates: Omit<FailureRates, 'carrierSilent'>;
  /** Called after every placed order (progress). */
  readonly onPlaced?: (placed: number) => void;
}

export interface PlacerResult {
  readonly placed: number;
  /** Order posts that failed (order service down, database out) and were repeated with the same order id. */
  readonly placeRetries: number;
  readonly seconds: number;
}

/**
 * The shop front of a fault run: posts orders to the order service at a steady rate (paced by
 * schedule, so a slow answer does not lower the rate), records each one's expected outcome in the
 * ground truth first, and repeats a failed post with the same order id until it is accepted (the
 * order service stores the order and starts its saga in one transaction, idempotent by order id)
 * — an outage delays orders, it never drops one.
 */
export async function placeOrders(o: PlacerOptions): Promise<PlacerResult> {
  const started = Date.now();
  let placed = 0;
  let placeRetries = 0;
  const never = new AbortController().signal;
  while (placed < o.sagas) {
    const scenario = pickScenario(o.random, { ...o.rates, carrierSilent: 0 }) as EndingScenario;
    const sagaId = `${o.sagaIdPrefix}${String(placed + 1).padStart(6, '0')}`;
    const order = orderFor(sagaId, scenario, o.random);
    o.truth.add({ sagaId, scenario });
    await postOrder(o.ordersUrl, order, never, () => (placeRetries += 1));
    placed += 1;
    o.onPlaced?.(placed);
    const due = started + (placed * 1000) / o.rate;
    if (due > Date.now()) await sleep(due - Date.now());
  }
  return { placed, placeRetries, seconds: (Date.now() - started) / 1000 };
}
