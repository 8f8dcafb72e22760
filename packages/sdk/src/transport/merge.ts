import type { InboundMessage } from './transport.js';

/** A fetched record waiting in its topic-partition's queue. */
export interface QueuedRecord {
  readonly message: InboundMessage;
  /** Record timestamp (ms since the epoch), the merge key across topics. */
  readonly ts: number;
  /** Offset as a bigint, for comparisons. */
  readonly offset: bigint;
  /** Key + value + header bytes, for the queue's memory bound. */
  readonly bytes: number;
}

/** One topic-partition's queue as the merge sees it. */
export interface MergeSource {
  readonly topic: string;
  /** Position of the topic in the consumer's topic list: breaks timestamp ties. */
  readonly rank: number;
  /** Queued records, oldest first. */
  readonly records: readonly QueuedRecord[];
  /**
   * Local time as of which the partition was known to hold nothing beyond its queue (every record
   * appended before that moment is fetched). A queue that ran empty holds up records produced
   * after this moment: the partition may still deliver one that precedes them.
   */
  readonly caughtUpAsOf: number;
  /** The bounded wait for this partition ran out: merge without it. */
  readonly waitedEnough: boolean;
}

export interface MergedBatch {
  /** Records in the order to handle them. */
  readonly records: readonly QueuedRecord[];
  /**
   * Sources that stopped the batch: empty, not known to be caught up as of `blockedAt`. Empty when
   * the batch ended for another reason (size, or every queue taken).
   */
  readonly blockedBy: readonly MergeSource[];
  /** Timestamp of the first record not taken because of `blockedBy`. */
  readonly blockedAt: number | undefined;
}

const before = (a: QueuedRecord, ar: number, b: QueuedRecord, br: number): boolean =>
  a.ts !== b.ts ? a.ts < b.ts : ar !== br ? ar < br : a.offset < b.offset;

/**
 * Merges co-partitioned queues in timestamp order, as Kafka Streams does for a task's partitions:
 * the next record is the oldest head; it is taken only if every source whose queue is (or becomes)
 * empty is known to have nothing older still unfetched — caught up as of the record's timestamp —
 * or has been waited for long enough. A saga's events are produced causally (the record that
 * caused another was committed before the other was produced), so this hands them over in the
 * order they happened, whichever topic each is on.
 */
export function mergeBatch(sources: readonly MergeSource[], max: number): MergedBatch {
  const cursor = sources.map(() => 0);
  const out: QueuedRecord[] = [];
  while (out.length < max) {
    let best = -1;
    for (let i = 0; i < sources.length; i++) {
      const s = sources[i];
      const c = cursor[i] ?? 0;
      if (!s || c >= s.records.length) continue;
      const r = s.records[c];
      const b = best < 0 ? undefined : sources[best];
      const br = b?.records[cursor[best] ?? 0];
      if (r && (!br || !b || before(r, s.rank, br, b.rank))) best = i;
    }
    const chosen = sources[best];
    const head = chosen?.records[cursor[best] ?? 0];
    if (!chosen || !head) return { records: out, blockedBy: [], blockedAt: undefined };
    const blockedBy = sources.filter((s, i) => (cursor[i] ?? 0) >= s.records.length && !s.waitedEnough && s.caughtUpAsOf < head.ts);
    if (blockedBy.length > 0) return { records: out, blockedBy, blockedAt: head.ts };
    out.push(head);
    cursor[best] = (cursor[best] ?? 0) + 1;
  }
  return { records: out, blockedBy: [], blockedAt: undefined };
}

/** Bytes a record holds in memory, roughly: key, value and headers. */
export function recordBytes(m: InboundMessage): number {
  let n = (m.key?.length ?? 0) + (m.value?.length ?? 0) + 64;
  for (const [k, v] of Object.entries(m.headers)) {
    n += k.length;
    if (typeof v === 'string' || Buffer.isBuffer(v)) n += v.length;
    else if (Array.isArray(v)) for (const x of v) n += x.length;
  }
  return n;
}
