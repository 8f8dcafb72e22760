import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Publisher } from '@troupe/sdk';
import { OrderPlaced } from '../../../examples/order-fulfillment/src/generated/events.js';
import { orderFor, pickScenario, type FailureRates } from '../../../examples/order-fulfillment/src/world.js';
import type { EndingScenario, GroundTruth } from './ground-truth.js';

export interface PlacerOptions {
  readonly publisher: Publisher;
  readonly truth: GroundTruth;
  readonly random: () => number;
  /** Saga ids are `<prefix><n>`. */
  readonly sagaIdPrefix: string;
  /** Orders per second. */
  readonly rate: number;
  /** Orders to place; undefined = until `signal` aborts. */
  readonly sagas?: number;
  /** Unhappy shares (the silent carrier is never placed: those sagas do not end by themselves). */
  readonly rates: Omit<FailureRates, 'carrierSilent'>;
  readonly signal?: AbortSignal;
  /** Called after every placed order (progress). */
  readonly onPlaced?: (placed: number) => void;
}

export interface PlacerResult {
  readonly placed: number;
  /** Publishes that failed and were repeated with the same `ce_id` (broker or registry outages). */
  readonly publishRetries: number;
  readonly seconds: number;
}

/**
 * The shop front of a fault run: places orders at a steady rate (paced by schedule, so a slow
 * publish does not lower the rate), records each one's expected outcome in the ground truth before
 * it is published, and repeats a failed publish with the same `ce_id` until it succeeds — a
 * publisher outage delays orders, it never drops one.
 */
export async function placeOrders(o: PlacerOptions): Promise<PlacerResult> {
  const started = Date.now();
  let placed = 0;
  let publishRetries = 0;
  while (!o.signal?.aborted && (o.sagas === undefined || placed < o.sagas)) {
    const scenario = pickScenario(o.random, { ...o.rates, carrierSilent: 0 }) as EndingScenario;
    const sagaId = `${o.sagaIdPrefix}${String(placed + 1).padStart(6, '0')}`;
    const startEventId = randomUUID();
    const order = orderFor(sagaId, scenario, o.random);
    o.truth.add({ sagaId, scenario, startEventId });
    for (;;) {
      try {
        await o.publisher.publish(OrderPlaced, order, { sagaId, id: startEventId });
        break;
      } catch {
        publishRetries += 1;
        await sleep(500);
      }
    }
    placed += 1;
    o.onPlaced?.(placed);
    const due = started + (placed * 1000) / o.rate;
    if (due > Date.now()) await sleep(due - Date.now(), undefined, o.signal ? { signal: o.signal } : {}).catch(() => undefined);
  }
  return { placed, publishRetries, seconds: (Date.now() - started) / 1000 };
}
