import { HEADER } from '@troupe/core';
import type { Logger } from 'pino';
import { describeError } from '../errors.js';
import type { DeliveryMode, OutboundRecord, Transport } from '../transport/transport.js';
import type { Inbox, InboxBatch, InboxEntry } from './inbox.js';
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
 * exactly the events whose outputs were committed. A new owner of a partition reads the last
 * `window` offsets of its inbox partition back before handling anything (the earlier owner is
 * fenced by then). In at-least-once mode the records are appended after the batch committed: a
 * crash between the two leaves events that were handled but are not in the inbox (ADR 0011).
 */
export class TopicInbox implements Inbox {
  readonly window: number;
  private readonly windows = new Map<number, InboxWindow>();
  private readonly restoring = new Map<number, Promise<InboxWindow>>();

  constructor(
    private readonly deps: {
      readonly transport: Transport;
      readonly topic: string;
      readonly delivery: DeliveryMode;
      readonly window: number;
      readonly logger: Logger;
    },
  ) {
    this.window = deps.window;
  }

  get topic(): string {
    return this.deps.topic;
  }

  reassigned(): void {
    this.windows.clear();
    this.restoring.clear();
  }

  async open(partition: number): Promise<InboxBatch> {
    const window = await this.restore(partition);
    return new TopicInboxBatch(this, window, partition);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  /** Ids remembered now over all partition numbers (for tests and the memory bound). */
  get size(): number {
    let n = 0;
    for (const w of this.windows.values()) n += w.size;
    return n;
  }

  /** @internal The window of a partition number as known now (after an assignment change, a newer one). */
  windowOf(partition: number): InboxWindow | undefined {
    return this.windows.get(partition);
  }

  /** @internal */
  get delivery(): DeliveryMode {
    return this.deps.delivery;
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

  private restore(partition: number): Promise<InboxWindow> {
    let p = this.restoring.get(partition);
    if (!p) {
      p = (async () => {
        const window = new InboxWindow(this.deps.window);
        const records = await this.deps.transport.readPartition(this.deps.topic, partition, '0', { last: this.deps.window });
        for (const r of records) {
          const id = r.key?.toString('utf8');
          if (id) window.add(id);
        }
        this.windows.set(partition, window);
        this.deps.logger.debug({ partition, restored: records.length }, 'inbox restored');
        return window;
      })();
      p.catch(() => this.restoring.delete(partition));
      this.restoring.set(partition, p);
    }
    return p;
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
    // Committed ids are facts: they also go to a window rebuilt meanwhile (adding twice is harmless).
    const current = this.inbox.windowOf(this.partition);
    for (const id of this.pending) {
      this.window.add(id);
      current?.add(id);
    }
  }
}
