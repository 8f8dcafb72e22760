import type { IdempotencyStore } from '@troupe/sdk';

/**
 * A service's local copy of what it learnt from other services' events (event-carried state
 * transfer): the inventory and shipping services keep the order lines and address from
 * OrderPlaced, the order service keeps the payment id. Backed by the same store as `ctx.once`,
 * so it is as durable as the service's side effects (memory in the embedded demo, PostgreSQL in
 * Kafka mode).
 */
export class OrderBook<T> {
  constructor(
    private readonly store: IdempotencyStore,
    private readonly kind: string,
  ) {}

  async remember(orderId: string, value: T): Promise<void> {
    await this.store.putIfAbsent(`${this.kind}:${orderId}`, value);
  }

  /**
   * A saga's events reach a participant in the order they were produced, across topics (the SDK
   * merges co-partitioned topics by timestamp), so the event this book learns from was handled
   * before any event it led to. A miss is a bug, not a race: it fails loudly.
   */
  async lookup(orderId: string): Promise<T> {
    const hit = await this.store.get(`${this.kind}:${orderId}`);
    if (hit === undefined) {
      throw new Error(`${this.kind} of order ${orderId} is unknown: the event that carries it was not handled before this one`);
    }
    return hit.value as T;
  }
}
