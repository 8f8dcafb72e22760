// What each placed order must end as, decided by the order's data when it is placed (see the
// example's world.ts): the saga's terminal status and the exact set of event types its saga
// produces on the domain topics, each exactly once.
import { EXPECTED, type ExpectedStatus, type Scenario } from '../../../examples/order-fulfillment/src/world.js';

const ORDERS = 'com.acme.orders.';
const PAY = 'com.acme.payments.';
const INV = 'com.acme.inventory.';
const SHIP = 'com.acme.shipping.';

/** The event types a saga of each scenario produces, each exactly once. */
export const EVENTS_OF: Readonly<Record<Exclude<Scenario, 'carrier-silent'>, readonly string[]>> = {
  happy: [`${ORDERS}OrderPlaced`, `${PAY}PaymentCharged`, `${INV}InventoryReserved`, `${SHIP}ShipmentScheduled`, `${ORDERS}OrderCompleted`],
  'card-expired': [`${ORDERS}OrderPlaced`, `${PAY}PaymentDeclined`, `${ORDERS}OrderCancelled`],
  'sold-out': [
    `${ORDERS}OrderPlaced`,
    `${PAY}PaymentCharged`,
    `${INV}InventoryReservationFailed`,
    `${PAY}PaymentRefunded`,
    `${ORDERS}OrderCancelled`,
  ],
  undeliverable: [
    `${ORDERS}OrderPlaced`,
    `${PAY}PaymentCharged`,
    `${INV}InventoryReserved`,
    `${SHIP}ShipmentFailed`,
    `${PAY}PaymentRefunded`,
    `${INV}InventoryReleased`,
    `${ORDERS}OrderCancelled`,
  ],
};

/** Scenarios a fault run places: every one ends on its own (a silent carrier needs a person). */
export type EndingScenario = keyof typeof EVENTS_OF;

export interface PlacedSaga {
  readonly sagaId: string;
  readonly scenario: EndingScenario;
}

/** The run's ground truth: every saga placed, in order. */
export class GroundTruth {
  private readonly placed = new Map<string, PlacedSaga>();

  add(saga: PlacedSaga): void {
    this.placed.set(saga.sagaId, saga);
  }

  get size(): number {
    return this.placed.size;
  }

  get(sagaId: string): PlacedSaga | undefined {
    return this.placed.get(sagaId);
  }

  sagas(): IterableIterator<PlacedSaga> {
    return this.placed.values();
  }

  /** Sagas expected per terminal status. */
  expectedOutcomes(): Record<ExpectedStatus, number> {
    const out: Record<ExpectedStatus, number> = { completed: 0, compensated: 0, 'timed-out': 0, failed: 0, stuck: 0 };
    for (const s of this.placed.values()) out[EXPECTED[s.scenario]] += 1;
    return out;
  }
}

export { EXPECTED };
export type { ExpectedStatus };
