import { Participant, type IdempotencyStore, type PostgresOutbox, type Transport } from '@troupe/sdk';
import type { EventCodec } from '@troupe/schema-registry';
import type { Logger } from 'pino';
import { contracts, eventTypes } from '../generated/events.js';
import { inventoryHandlers } from './inventory-service.js';
import { orderHandlers, orderTimeouts } from './order-service.js';
import { paymentHandlers } from './payment-service.js';
import { shippingHandlers } from './shipping-service.js';

export const SERVICE_NAMES = ['order-service', 'payment-service', 'inventory-service', 'shipping-service'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

export interface ServiceDeps {
  readonly transport: Transport;
  readonly codec: EventCodec;
  /** Side-effect results and the service's local order book. */
  readonly store: IdempotencyStore;
  readonly logger?: Logger;
  readonly partitions?: number;
  /**
   * PostgreSQL-transactional handling (docs/outbox.md): handler transactions and an in-process relay.
   * Not for the order service: it keeps the saga's clock (shipping's `within` with `onTimeout:
   * abort`), whose timers commit in Kafka transactions (docs/time.md).
   */
  readonly outbox?: PostgresOutbox;
}

/** Starts one of the example's services as a Troupe participant. */
export async function startService(name: ServiceName, deps: ServiceDeps): Promise<Participant> {
  const handlers = (() => {
    switch (name) {
      case 'order-service':
        return orderHandlers(deps.store);
      case 'payment-service':
        return paymentHandlers();
      case 'inventory-service':
        return inventoryHandlers(deps.store);
      case 'shipping-service':
        return shippingHandlers(deps.store);
    }
  })();
  return Participant.create({
    name,
    transport: deps.transport,
    codec: deps.codec,
    handlers,
    contracts: [contracts['order-fulfillment']],
    events: eventTypes,
    idempotencyStore: deps.store,
    ...(deps.logger !== undefined ? { logger: deps.logger } : {}),
    ...(deps.partitions !== undefined ? { topics: { partitions: deps.partitions } } : {}),
    ...(deps.outbox !== undefined ? { outbox: deps.outbox } : {}),
    // The initiator cancels orders whose carrier is silent past the contract's limit.
    ...(name === 'order-service' ? { timeouts: orderTimeouts() } : {}),
  });
}
