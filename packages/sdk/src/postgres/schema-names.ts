/** A lower-case SQL identifier: safe to interpolate (the only names Troupe puts into SQL text). */
export const SQL_IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Fully qualified names of Troupe's tables in one PostgreSQL schema. Every statement takes its
 * names from here, so a deployment can keep several outboxes apart by schema name.
 */
export interface OutboxTables {
  readonly schema: string;
  /** Events waiting for (and, until purged, after) their publication. */
  readonly outbox: string;
  /** One row per shard of the outbox: the relays lock these, not the events (ADR 0014). */
  readonly shards: string;
  /** Handled input events: (consumer group, ce_id, handler). */
  readonly inbox: string;
  /** Applied migration versions. */
  readonly migrations: string;
  /** The LISTEN/NOTIFY channel woken by every insert into the outbox. */
  readonly channel: string;
}

export function outboxTables(schema: string): OutboxTables {
  return {
    schema,
    outbox: `${schema}.outbox`,
    shards: `${schema}.outbox_shards`,
    inbox: `${schema}.inbox`,
    migrations: `${schema}.migrations`,
    channel: `${schema}_outbox`,
  };
}

/**
 * Shards of the outbox. A saga's events always land in the same shard (murmur2 of the saga id), and
 * one relay at a time publishes a shard, so a saga's events leave in the order they were written.
 * Fixed by migration 1: changing it would split a saga's waiting events over two shards.
 */
export const OUTBOX_SHARDS = 32;
