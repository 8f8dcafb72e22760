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
   * Events of one saga arrive on different topics, so a step's trigger may be handled before the
   * event this book learns from: throwing makes the SDK retry after a back-off, by which time the
   * earlier event has been handled.
   */
  async lookup(orderId: string): Promise<T> {
    const hit = await this.store.get(`${this.kind}:${orderId}`);
    if (hit === undefined) throw new NotYetKnownError(`${this.kind} of order ${orderId} not seen yet; retrying`);
    return hit.value as T;
  }
}

export class NotYetKnownError extends Error {
  override readonly name = 'NotYetKnownError';
  readonly retriable = true;
}
