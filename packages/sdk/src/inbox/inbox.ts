import type { OutboundRecord } from '../transport/transport.js';

/** An input event that was handled with visible effect, as the inbox records it. */
export interface InboxEntry {
  /** `ce_id` of the input event: what duplicates are recognised by. */
  readonly eventId: string;
  readonly sagaId: string;
  /** `ce_type`, for logs and the duplicate metric. */
  readonly type: string;
  /** Where it was consumed (the original's coordinates for a retry-topic pass). */
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
}

/**
 * Which input events a participant's consumer group has handled, so a duplicate (a producer's
 * retry, an upstream re-send, a replay, a redelivery after a rebalance) is recognised by its
 * `ce_id` and not handled again. The state is per partition number: it moves with the partition.
 *
 * The participant calls, per batch: `open(partition)` → for each record `seen(eventId)` (skip it
 * if true) and, once its handlers finished with a visible effect, `handled(entry)` → the batch's
 * commit (outputs, offsets and whatever `handled` returned, in one transaction) → `committed(outputs)`.
 * An event that was dead-lettered (given up on, refused at the boundary, behind a dead saga) is
 * never passed to `handled`: a replay of it must be handled. When only some of its routes were, the
 * others are passed one by one as `<ce_id>#<route label>` (ADR 0011, amendment).
 *
 * Implementations: {@link TopicInbox} (a compacted topic written in the batch's Kafka transaction;
 * works on the memory transport too). A database-backed inbox writes its row in the same database
 * transaction as the handler's effects and returns no records from `handled`.
 */
export interface Inbox {
  /**
   * Opens the inbox for one batch of `partition`. Called before the batch's first record, after
   * the partition number was taken over (the earlier owner is fenced, so what it committed is
   * final). The first call after {@link Inbox.reassigned} rebuilds the partition's state; it
   * rejects while that state cannot be read (the batch is then delivered again later).
   */
  open(partition: number): Promise<InboxBatch>;
  /** The consumer's assignment changed: what is known of a partition may be stale now. */
  reassigned(): void;
  close(): Promise<void>;
}

/** The inbox's view for one batch: handled events count for later records of the batch at once. */
export interface InboxBatch {
  /** True when the event was handled before (committed) or earlier in this batch. */
  seen(eventId: string): Promise<boolean>;
  /**
   * The event was handled with visible effect and its record is done (its outputs are committed
   * with the batch). Returns the records to append in the batch's transaction (none for an inbox
   * that stored the fact with the handler's effects).
   */
  handled(entry: InboxEntry): readonly OutboundRecord[];
  /**
   * The batch is committed with `outputs`: its handled events hold for later batches (also those
   * whose records a batch reuses from an earlier, uncommitted delivery). Not called when the
   * commit failed.
   */
  committed(outputs: readonly OutboundRecord[]): void;
}
