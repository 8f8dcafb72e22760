/**
 * The simulated outside world the four services talk to: a payment gateway that declines expired
 * cards, a warehouse with sold-out SKUs, carriers that cannot deliver everywhere — and one carrier
 * that never answers. An order's data decides what happens to it, as in real life, so the shop
 * (the demo driver) knows each saga's expected outcome when it places the order.
 */
import type { OrderPlaced } from './generated/events.js';

/**
 * What the demo expects for a saga, in the tracker's vocabulary: `timed-out` = compensated after
 * the order service cancelled it at the contract's limit (the tracker's `abort.kind: timeout`);
 * `stuck` = running past its deadline (nothing in the demo should be).
 */
export type ExpectedStatus = 'completed' | 'compensated' | 'timed-out' | 'failed' | 'stuck';

export type Scenario = 'happy' | 'card-expired' | 'sold-out' | 'undeliverable' | 'carrier-silent';

export const EXPECTED: Readonly<Record<Scenario, ExpectedStatus>> = {
  happy: 'completed',
  'card-expired': 'compensated', // nothing was done yet: nothing to undo
  'sold-out': 'compensated', // refund
  undeliverable: 'compensated', // refund and release
  // Shipping never answers: at the contract's `within` (1m, onTimeout: abort) the order service
  // cancels the order; payment refunds and inventory releases.
  'carrier-silent': 'timed-out',
};

/** Probability of each unhappy scenario; the rest of the orders are happy. */
export interface FailureRates {
  readonly cardExpired: number;
  readonly soldOut: number;
  readonly undeliverable: number;
  readonly carrierSilent: number;
}

export const DEFAULT_RATES: FailureRates = { cardExpired: 0.1, soldOut: 0.1, undeliverable: 0.1, carrierSilent: 0 };

export function validateRates(r: FailureRates): void {
  const all = Object.entries(r) as [string, number][];
  for (const [name, v] of all) {
    if (!Number.isFinite(v) || v < 0 || v > 1) throw new RangeError(`failure rate ${name} must be between 0 and 1 (got ${v})`);
  }
  const sum = all.reduce((s, [, v]) => s + v, 0);
  if (sum > 1) throw new RangeError(`failure rates add up to ${sum.toFixed(2)}; they must not exceed 1`);
}

/** A small seeded PRNG (mulberry32): the same seed places the same orders. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function pickScenario(random: () => number, r: FailureRates): Scenario {
  const x = random();
  let edge = r.cardExpired;
  if (x < edge) return 'card-expired';
  edge += r.soldOut;
  if (x < edge) return 'sold-out';
  edge += r.undeliverable;
  if (x < edge) return 'undeliverable';
  edge += r.carrierSilent;
  if (x < edge) return 'carrier-silent';
  return 'happy';
}

// The markers the services' fake partners react to.
export const EXPIRED_CARD_CUSTOMER = /^cust-expired-/;
export const SOLD_OUT_SKU = /^SKU-SOLDOUT-/;
export const UNDELIVERABLE_COUNTRY = 'AQ';
export const SILENT_CARRIER_POSTCODE = '00000';

/** Builds an order whose data leads to `scenario`. */
export function orderFor(orderId: string, scenario: Scenario, random: () => number): OrderPlaced {
  const n = Math.floor(random() * 9000) + 1000;
  const sku = scenario === 'sold-out' ? `SKU-SOLDOUT-${n % 7}` : `SKU-${n % 97}`;
  const quantity = 1 + (n % 3);
  const unitPriceCents = 500 + (n % 50) * 100;
  return {
    orderId,
    customerId: scenario === 'card-expired' ? `cust-expired-${n}` : `cust-${n}`,
    items: [{ sku, quantity, unitPriceCents }],
    totalCents: quantity * unitPriceCents,
    currency: 'EUR',
    shippingAddress: {
      line1: `${n % 200} Canal Street`,
      line2: null,
      city: scenario === 'undeliverable' ? 'McMurdo Station' : 'Amsterdam',
      postalCode: scenario === 'carrier-silent' ? SILENT_CARRIER_POSTCODE : `10${n % 90}AB`,
      country: scenario === 'undeliverable' ? UNDELIVERABLE_COUNTRY : 'NL',
    },
    couponCode: null,
  };
}
