import { SdkError, type PostgresOutbox, type Publisher } from '@troupe/sdk';
import { OrderPlaced } from '../generated/events.js';

/** What placing an order came to: stored now, or stored before (the shop retried with the same id). */
export type PlaceResult = 'created' | 'exists';

/**
 * The order service's order table and the start of each order's saga, in one PostgreSQL
 * transaction: the order row and its OrderPlaced (an outbox row) commit together, so there is
 * never an order without a saga or a saga without an order. Placing an order id again is a no-op.
 */
export class OrderDesk {
  private constructor(
    private readonly outbox: PostgresOutbox,
    private readonly publisher: Publisher,
    private readonly table: string,
  ) {}

  static async create(opts: { outbox: PostgresOutbox; publisher: Publisher; table: string }): Promise<OrderDesk> {
    if (!/^([a-z_][a-z0-9_]{0,62}\.)?[a-z_][a-z0-9_]{0,62}$/.test(opts.table)) {
      throw new SdkError('CONFIG_INVALID', `order table ${opts.table}: use a lower-case SQL identifier, optionally schema-qualified`);
    }
    await opts.outbox.pool.query(
      `CREATE TABLE IF NOT EXISTS ${opts.table} (id text PRIMARY KEY, customer_id text NOT NULL, total_cents integer NOT NULL, currency text NOT NULL, placed_at timestamptz NOT NULL DEFAULT now())`,
    );
    return new OrderDesk(opts.outbox, opts.publisher, opts.table);
  }

  place(order: OrderPlaced): Promise<PlaceResult> {
    return this.outbox.transaction(async (tx) => {
      const inserted = await tx.query(
        `INSERT INTO ${this.table} (id, customer_id, total_cents, currency) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING`,
        [order.orderId, order.customerId, order.totalCents, order.currency],
      );
      if (inserted.rowCount !== 1) return 'exists';
      await this.publisher.publish(OrderPlaced, order, { sagaId: order.orderId, tx });
      return 'created';
    });
  }

  /** Orders whose id starts with `prefix`. */
  async count(prefix: string): Promise<number> {
    const res = await this.outbox.pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${this.table} WHERE starts_with(id, $1)`, [prefix]);
    return Number(res.rows[0]?.n ?? 0);
  }
}
