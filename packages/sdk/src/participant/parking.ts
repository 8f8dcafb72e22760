import { HEADER, headerString } from '@troupe/core';
import type { Logger } from 'pino';
import { readRetryInfo } from '../retry/retry-topic.js';
import type { Transport } from '../transport/transport.js';
import { PartitionRestores } from './partition-restores.js';

/** Attempt and due time of a retry record whose last pass failed (it stays uncommitted). */
export interface RetryPass {
  readonly attempt: number;
  readonly dueAt: number;
}

/**
 * Which sagas have events waiting in the retry topic, and how many. Kept in memory; after an
 * assignment change it is rebuilt per partition from the retry topic itself (records past the
 * group's committed offset), so a restarted or new owner keeps the per-saga order too.
 */
export class ParkedSagas {
  private readonly counts = new Map<string, number>();
  private readonly passes = new Map<string, RetryPass>();
  private readonly restores: PartitionRestores<ReadonlyMap<string, number>>;
  /** Counts assignment changes: a batch committed across one does not apply its ledger. */
  private assignments = 0;

  constructor(
    private readonly deps: {
      readonly transport: Transport;
      readonly groupId: string;
      readonly retryTopic: string | undefined;
      readonly logger: Logger;
    },
  ) {
    this.restores = new PartitionRestores({
      what: `the retry topic ${deps.retryTopic ?? ''}`,
      read: (partition) => this.read(partition),
      // Counted only when the read is still current: one from before a revoke and re-assign would
      // park sagas whose retries another owner has handled since.
      apply: (_, waiting) => {
        for (const [saga, n] of waiting) this.counts.set(saga, (this.counts.get(saga) ?? 0) + n);
      },
      logger: deps.logger,
      now: () => Date.now(),
    });
  }

  /** Partitions moved: what was known may belong to another member now. */
  forget(): void {
    this.assignments += 1;
    this.counts.clear();
    this.passes.clear();
    this.restores.reassigned();
  }

  /** Reads the partition's waiting sagas back once per assignment; rejects while the topic is unreadable. */
  async restore(partition: number): Promise<void> {
    if (this.deps.retryTopic !== undefined) await this.restores.restore(partition);
  }

  private async read(partition: number): Promise<ReadonlyMap<string, number>> {
    const topic = this.deps.retryTopic ?? '';
    const committed = (await this.deps.transport.committedOffsets(this.deps.groupId, topic)).get(partition) ?? '0';
    const pending = await this.deps.transport.readPartition(topic, partition, committed);
    const waiting = new Map<string, number>();
    for (const record of pending) {
      const saga = readRetryInfo(record) ? headerString(record.headers, HEADER.sagaId) : undefined;
      if (saga !== undefined) waiting.set(saga, (waiting.get(saga) ?? 0) + 1);
    }
    if (pending.length > 0) this.deps.logger.info({ partition, waiting: pending.length }, 'restored sagas waiting in the retry topic');
    return waiting;
  }

  /** A ledger for one batch: its changes count for later messages of the batch at once, for everyone after the commit. */
  ledger(): ParkingLedger {
    const at = this.assignments;
    return new ParkingLedger(this.counts, () => at === this.assignments);
  }

  passOf(key: string): RetryPass | undefined {
    return this.passes.get(key);
  }

  setPass(key: string, pass: RetryPass): void {
    this.passes.set(key, pass);
  }

  clearPass(key: string): void {
    this.passes.delete(key);
  }
}

/** What dispatching one message reads and changes of the parked sagas. */
export interface ParkingScope {
  isParked(sagaId: string): boolean;
  park(sagaId: string, by: number): void;
}

/**
 * Parked-saga changes of one batch, message by message. Messages of different sagas may be handled
 * at the same time, so each has its own scope; a kept message's changes count for the later
 * messages of the batch at once, and for everyone once the batch is committed up to it.
 */
export class ParkingLedger {
  private readonly kept = new Map<number, ReadonlyMap<string, number>>();
  private readonly done = new Map<string, number>();

  constructor(
    private readonly counts: Map<string, number>,
    /** False once the assignment changed since the batch started. */
    private readonly sameAssignment: () => boolean,
  ) {}

  /** The scope of message `index` of the batch: `keep()` once it is done, else drop it. */
  message(index: number): ParkingScope & { keep(): void; readonly changes: ReadonlyMap<string, number> } {
    const current = new Map<string, number>();
    return {
      changes: current,
      isParked: (saga) => (this.counts.get(saga) ?? 0) + (this.done.get(saga) ?? 0) + (current.get(saga) ?? 0) > 0,
      park: (saga, by) => current.set(saga, (current.get(saga) ?? 0) + by),
      keep: () => {
        this.kept.set(index, current);
        for (const [saga, d] of current) this.done.set(saga, (this.done.get(saga) ?? 0) + d);
      },
    };
  }

  /** The batch is committed up to message `processed` (exclusive): those changes hold for everyone. */
  apply(processed: number): void {
    // After an assignment change the waiting sagas are read back from the retry topic, which then
    // already holds this batch's records: applying the changes too would count them twice.
    if (!this.sameAssignment()) return;
    for (const [index, changes] of this.kept) {
      if (index >= processed) continue;
      for (const [saga, d] of changes) {
        const n = (this.counts.get(saga) ?? 0) + d;
        if (n > 0) this.counts.set(saga, n);
        else this.counts.delete(saga);
      }
    }
  }
}
