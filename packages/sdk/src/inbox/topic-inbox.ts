import { HEADER } from '@troupe/core';
import type { Logger } from 'pino';
import { describeError } from '../errors.js';
import type { DeliveryMode, OutboundRecord, Transport } from '../transport/transport.js';
import type { Inbox, InboxBatch, InboxEntry } from './inbox.js';
import { PartitionRestores } from '../participant/partition-restores.js';
import { InboxWindow } from './inbox-window.js';

/** Settings of the inbox a participant keeps on its own topic. */
export interface InboxOptions {
  /**
   * Event ids remembered per partition number: a duplicate that arrives after this many later
   * events of its partition was handled is no longer recognised (it is handled again).
   * @default 20_000
   */
  readonly window?: number;
  /**
   * The inbox topic (compacted; its records are keyed by `ce_id`).
   * @default `${groupId}.inbox`
   */
  readonly topic?: string;
  /**
   * How long the inbox topic keeps a record (`retention.ms`); rebuilding reads at most the window.
   * @default 7 days
   */
  readonly retentionMs?: number;
}

/** Header of an inbox record: the saga, for humans reading the topic. */
const INBOX_SAGA_HEADER = HEADER.sagaId;

/**
 * The inbox on a topic of its own, keyed by `ce_id`, one partition per partition number. In
 * exactly-once mode its records are appended in the batch's transaction, so the inbox holds
 * exactly the events whose outputs were committed. A new owner of a partition reads its inbox
 * partition's tail back before handling anything (the earlier owner is fenced by then): the last
 * `window` records, found among the last `2 × window` offsets — each transaction also takes an
 * offset for its commit marker, so with one record per transaction the last `window` offsets hold
 * only half as many records. In at-least-once mode the records are appended after the batch
 * committed: a crash between the two leaves events that were handled but are not in the inbox
 * (ADR 0011).
 */
export class TopicInbox implements Inbox {
  readonly window: number;
  private readonly windows: PartitionRestores<InboxWindow>;
  constructor(
    private readonly deps: {
      readonly transport: Transport;
      readonly topic: string;
      readonly delivery: DeliveryMode;
      readonly window: number;
      readonly logger: Logger;
      /** Called with the number of ids a commit pushed out of a full window. */
      readonly onEvicted?: (ids: number) => void;
    },
  ) {
    this.window = deps.window;
    this.windows = new PartitionRestores({
      what: `the inbox topic ${deps.topic}`,
      read: (partition) => this.read(partition),
      logger: deps.logger,
      now: () => Date.now(),
    });
  }

  get topic(): string {
    return this.deps.topic;
  }

  reassigned(): void {
    this.windows.reassigned();
  }

  async open(partition: number): Promise<InboxBatch> {
    return new TopicInboxBatch(this, await this.windows.restore(partition), partition);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  /** Ids remembered now over all partition numbers (for tests and the memory bound). */
  get size(): number {
    let n = 0;
    for (const [, w] of this.windows.values()) n += w.size;
    return n;
  }

  /** Ids remembered per partition number read for the current assignment (the window fill gauge). */
  fill(): ReadonlyMap<number, number> {
    return new Map([...this.windows.values()].map(([partition, w]) => [partition, w.size]));
  }

  /** @internal */
  get delivery(): DeliveryMode {
    return this.deps.delivery;
  }

  /** @internal Committed ids are facts for the partition's current window (read now, or once its read finishes). */
  remember(partition: number, ids: Iterable<string>): void {
    this.windows.afterRestore(partition, (window) => {
      let evicted = 0;
      for (const id of ids) if (window.add(id)) evicted += 1;
      if (evicted > 0) this.deps.onEvicted?.(evicted);
    });
  }

  /** @internal Appends inbox records outside a transaction (at-least-once mode). */
  appendLater(records: readonly OutboundRecord[]): void {
    this.deps.transport.send(records).catch((err: unknown) => {
      this.deps.logger.warn(
        { err: describeError(err), records: records.length },
        'cannot append to the inbox; a duplicate of these events would be handled again',
      );
    });
  }

  private async read(partition: number): Promise<InboxWindow> {
    const { transport, topic, window: capacity } = this.deps;
    const records = await transport.readPartition(topic, partition, '0', { last: 2 * capacity });
    const window = new InboxWindow(capacity);
    for (const r of records.slice(-capacity)) {
      const id = r.key?.toString('utf8');
      if (id) window.add(id);
    }
    this.deps.logger.debug({ partition, restored: window.size }, 'inbox restored');
    return window;
  }
}

class TopicInboxBatch implements InboxBatch {
  private readonly pending = new Set<string>();
  private readonly later: OutboundRecord[] = [];

  constructor(
    private readonly inbox: TopicInbox,
    private readonly window: InboxWindow,
    private readonly partition: number,
  ) {}

  seen(eventId: string): Promise<boolean> {
    return Promise.resolve(this.pending.has(eventId) || this.window.has(eventId));
  }

  handled(entry: InboxEntry): readonly OutboundRecord[] {
    this.pending.add(entry.eventId);
    const record: OutboundRecord = {
      topic: this.inbox.topic,
      key: entry.eventId,
      value: Buffer.from(`${entry.topic}/${entry.partition}/${entry.offset}`),
      headers: { [INBOX_SAGA_HEADER]: entry.sagaId },
      partition: this.partition,
    };
    if (this.inbox.delivery === 'exactly-once') return [record];
    this.later.push(record);
    return [];
  }

  committed(outputs: readonly OutboundRecord[]): void {
    if (this.later.length > 0) this.inbox.appendLater(this.later);
    // Inbox records among the outputs may come from an earlier delivery of the batch's records.
    for (const r of outputs) if (r.topic === this.inbox.topic && typeof r.key === 'string') this.pending.add(r.key);
    // The window this batch started with, or a newer one if the assignment changed meanwhile.
    this.inbox.remember(this.partition, this.pending);
  }
}
