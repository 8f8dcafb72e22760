import { SdkError, throwIfInvalid } from '../../errors.js';
import { OptionChecks } from '@troupe/core';
import { partitionForKey } from '../murmur2.js';
import { Semaphore, sleep } from '../../util/semaphore.js';
import type {
  ConsumerHandle,
  ConsumerSpec,
  InboundMessage,
  OutboundRecord,
  TopicSpec,
  Transport,
} from '../transport.js';

export interface MemoryTransportOptions {
  /**
   * Pause before a batch whose handler threw (or finished nothing) is delivered again.
   * @default 20
   */
  readonly redeliveryDelayMs?: number;
}

type Listener = (record: InboundMessage) => void;

interface Member {
  readonly id: number;
  readonly spec: ConsumerSpec;
  readonly owned: Set<string>;
  readonly semaphore: Semaphore;
  readonly workers: Map<string, Promise<void>>;
  stopped: boolean;
}

interface Group {
  readonly members: Member[];
  readonly committed: Map<string, number>;
  /** The batch in flight per partition: a new owner waits for it, as Kafka waits for revocation. */
  readonly inflight: Map<string, Promise<void>>;
}

const tpKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`;
const splitTp = (key: string): { topic: string; partition: number } => {
  const i = key.lastIndexOf('\u0000');
  return { topic: key.slice(0, i), partition: Number(key.slice(i + 1)) };
};

/**
 * An in-process broker with Kafka's semantics where the SDK depends on them: records partitioned
 * by key with Kafka's murmur2, per-partition order, consumer groups that split partitions among
 * members, committed offsets, redelivery of everything after the last commit when a handler
 * fails, and atomic append of a batch's outputs together with its offsets (a transaction).
 *
 * For the embedded demo and for unit tests of services; it keeps nothing after the process ends.
 */
export class MemoryTransport implements Transport {
  readonly kind = 'memory' as const;
  private readonly logs = new Map<string, InboundMessage[][]>();
  private readonly groups = new Map<string, Group>();
  private readonly waiters = new Map<string, Set<() => void>>();
  private readonly listeners = new Set<Listener>();
  private readonly redeliveryDelayMs: number;
  private nextMemberId = 1;
  private closed = false;

  private constructor(opts: MemoryTransportOptions) {
    const check = new OptionChecks();
    this.redeliveryDelayMs = check.number('redeliveryDelayMs', opts.redeliveryDelayMs ?? 20);
    throwIfInvalid(check, 'memory transport');
  }

  static create(opts: MemoryTransportOptions = {}): Promise<MemoryTransport> {
    return Promise.resolve(new MemoryTransport(opts));
  }

  ensureTopics(specs: readonly TopicSpec[]): Promise<ReadonlyMap<string, number>> {
    this.assertOpen();
    const counts = new Map<string, number>();
    for (const spec of specs) {
      let log = this.logs.get(spec.topic);
      if (!log) {
        const check = new OptionChecks();
        check.int('partitions', spec.partitions);
        throwIfInvalid(check, `topic ${spec.topic}`);
        log = Array.from({ length: spec.partitions }, () => []);
        this.logs.set(spec.topic, log);
      }
      counts.set(spec.topic, log.length);
    }
    return Promise.resolve(counts);
  }

  partitionCounts(topics: readonly string[]): Promise<ReadonlyMap<string, number>> {
    const counts = new Map<string, number>();
    for (const t of topics) {
      const log = this.logs.get(t);
      if (log) counts.set(t, log.length);
    }
    return Promise.resolve(counts);
  }

  send(records: readonly OutboundRecord[]): Promise<void> {
    this.assertOpen();
    this.append(records);
    return Promise.resolve();
  }

  committedOffsets(groupId: string, topic: string): Promise<ReadonlyMap<number, string>> {
    const out = new Map<number, string>();
    for (const [key, offset] of this.groups.get(groupId)?.committed ?? []) {
      const tp = splitTp(key);
      if (tp.topic === topic) out.set(tp.partition, String(offset));
    }
    return Promise.resolve(out);
  }

  readPartition(topic: string, partition: number, fromOffset: string): Promise<readonly InboundMessage[]> {
    return Promise.resolve((this.logs.get(topic)?.[partition] ?? []).slice(Number(fromOffset)));
  }

  ping(): Promise<void> {
    this.assertOpen();
    return Promise.resolve();
  }

  async consume(spec: ConsumerSpec): Promise<ConsumerHandle> {
    this.assertOpen();
    for (const topic of spec.topics) {
      if (!this.logs.has(topic)) {
        throw new SdkError('TRANSPORT_ERROR', `topic ${topic} does not exist; create it first (Transport.ensureTopics)`);
      }
    }
    let group = this.groups.get(spec.groupId);
    if (!group) {
      group = { members: [], committed: new Map(), inflight: new Map() };
      this.groups.set(spec.groupId, group);
    }
    const member: Member = {
      id: this.nextMemberId++,
      spec,
      owned: new Set(),
      semaphore: new Semaphore(spec.concurrency),
      workers: new Map(),
      stopped: false,
    };
    group.members.push(member);
    this.rebalance(group);
    const g = group;
    return Promise.resolve({
      stop: async () => {
        if (member.stopped) return;
        member.stopped = true;
        this.wakeAll();
        await Promise.all(member.workers.values());
        g.members.splice(g.members.indexOf(member), 1);
        this.rebalance(g);
      },
      isRunning: () => !member.stopped && !this.closed,
      assignment: () => [...member.owned].map(splitTp),
      lag: () => {
        let lag = 0;
        for (const key of member.owned) {
          const { topic, partition } = splitTp(key);
          const end = this.logs.get(topic)?.[partition]?.length ?? 0;
          lag += end - (g.committed.get(key) ?? 0);
        }
        return Promise.resolve(lag);
      },
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    const members = [...this.groups.values()].flatMap((g) => g.members);
    for (const m of members) m.stopped = true;
    this.wakeAll();
    await Promise.all(members.flatMap((m) => [...m.workers.values()]));
    this.closed = true;
  }

  // ---- inspection, for tests and the harness ----

  /** Every record of a topic, partition by partition, in offset order. */
  records(topic: string): readonly InboundMessage[] {
    return (this.logs.get(topic) ?? []).flat();
  }

  /** Names of the topics that exist. */
  topics(): readonly string[] {
    return [...this.logs.keys()];
  }

  /** Called for every appended record; returns the function that unsubscribes. */
  onAppend(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The group's committed offset (next offset to read) of a partition. */
  committedOffset(groupId: string, topic: string, partition: number): number | undefined {
    return this.groups.get(groupId)?.committed.get(tpKey(topic, partition));
  }

  // ---- internals ----

  private assertOpen(): void {
    if (this.closed) throw new SdkError('CLOSED', 'the memory transport is closed; create a new one');
  }

  /** Appends synchronously, so a batch's outputs and its offset commit are one atomic step. */
  private append(records: readonly OutboundRecord[]): void {
    // Validate all first: an append is all-or-nothing.
    for (const r of records) {
      const log = this.logs.get(r.topic);
      if (!log) throw new SdkError('TRANSPORT_ERROR', `topic ${r.topic} does not exist; create it first (Transport.ensureTopics)`);
      if (r.partition !== undefined && (r.partition < 0 || r.partition >= log.length)) {
        throw new SdkError('TRANSPORT_ERROR', `topic ${r.topic} has no partition ${r.partition}`);
      }
    }
    const now = String(Date.now());
    const appended: InboundMessage[] = [];
    for (const r of records) {
      const log = this.logs.get(r.topic) ?? [];
      const partition =
        r.partition ?? (r.key === null ? Math.floor(Math.random() * log.length) : partitionForKey(r.key, log.length));
      const plog = log[partition] ?? [];
      const headers: Record<string, Buffer> = {};
      for (const [k, v] of Object.entries(r.headers)) headers[k] = typeof v === 'string' ? Buffer.from(v) : Buffer.from(v);
      const msg: InboundMessage = {
        topic: r.topic,
        partition,
        offset: String(plog.length),
        key: r.key === null ? null : typeof r.key === 'string' ? Buffer.from(r.key) : Buffer.from(r.key),
        value: r.value === null ? null : Buffer.from(r.value),
        headers,
        timestamp: now,
      };
      plog.push(msg);
      appended.push(msg);
      const w = this.waiters.get(tpKey(r.topic, partition));
      if (w) {
        this.waiters.delete(tpKey(r.topic, partition));
        for (const wake of w) wake();
      }
    }
    for (const msg of appended) for (const l of this.listeners) l(msg);
  }

  private waitForAppend(key: string): Promise<void> {
    return new Promise((resolve) => {
      let set = this.waiters.get(key);
      if (!set) {
        set = new Set();
        this.waiters.set(key, set);
      }
      set.add(resolve);
    });
  }

  private wakeAll(): void {
    const all = [...this.waiters.values()];
    this.waiters.clear();
    for (const set of all) for (const wake of set) wake();
  }

  /** Partition number p of every topic goes to the same member (as Kafka's co-partitioned assigner). */
  private rebalance(group: Group): void {
    const active = group.members.filter((m) => !m.stopped);
    const next = new Map<Member, Set<string>>(active.map((m) => [m, new Set<string>()]));
    const topics = [...new Set(active.flatMap((m) => m.spec.topics))].sort();
    for (const topic of topics) {
      const subscribers = active.filter((m) => m.spec.topics.includes(topic));
      const count = this.logs.get(topic)?.length ?? 0;
      for (let p = 0; p < count; p++) {
        const owner = subscribers[p % subscribers.length];
        if (owner) next.get(owner)?.add(tpKey(topic, p));
      }
    }
    for (const m of active) {
      const target = next.get(m) ?? new Set<string>();
      let changed = false;
      for (const key of [...m.owned]) {
        if (!target.has(key)) {
          m.owned.delete(key);
          changed = true;
        }
      }
      for (const key of target) {
        if (!m.owned.has(key)) {
          m.owned.add(key);
          changed = true;
          this.startWorker(group, m, key);
        }
      }
      if (changed) m.spec.onAssignment?.([...m.owned].map(splitTp));
    }
    this.wakeAll();
  }

  private startWorker(group: Group, member: Member, key: string): void {
    const previous = member.workers.get(key);
    const run = async (): Promise<void> => {
      if (previous) await previous;
      await this.work(group, member, key);
    };
    const p = run().finally(() => {
      if (member.workers.get(key) === p) member.workers.delete(key);
    });
    member.workers.set(key, p);
  }

  private async work(group: Group, member: Member, key: string): Promise<void> {
    const { topic, partition } = splitTp(key);
    const spec = member.spec;
    const owns = (): boolean => !member.stopped && member.owned.has(key) && !this.closed;
    while (owns()) {
      const before = group.inflight.get(key);
      if (before) await before;
      if (!owns()) return;
      const log = this.logs.get(topic)?.[partition] ?? [];
      let position = group.committed.get(key);
      if (position === undefined) {
        position = spec.fromBeginning ? 0 : log.length;
        group.committed.set(key, position);
      }
      if (position >= log.length) {
        await this.waitForAppend(key);
        continue;
      }
      const release = await member.semaphore.acquire();
      let done!: () => void;
      group.inflight.set(key, new Promise<void>((r) => (done = r)));
      let pause = false;
      let pauseMs = this.redeliveryDelayMs;
      try {
        if (!owns()) continue;
        const messages = log.slice(position, position + spec.maxBatchSize);
        const start = position;
        try {
          const outcome = await spec.handle({
            topic,
            partition,
            messages,
            isStale: () => !owns(),
            heartbeat: () => Promise.resolve(),
          });
          const processed = Math.max(0, Math.min(outcome.processed, messages.length));
          if (outcome.retryAfterMs !== undefined) pauseMs = outcome.retryAfterMs;
          if (processed < messages.length && outcome.retryAfterMs !== undefined) pause = true;
          if (processed > 0) {
            this.append(outcome.outputs);
            group.committed.set(key, start + processed);
            outcome.afterCommit?.();
          } else {
            pause = true;
          }
        } catch {
          // Nothing of the batch is committed; it is delivered again from the committed offset.
          pause = true;
        }
      } finally {
        group.inflight.delete(key);
        done();
        release();
      }
      if (pause) await sleep(pauseMs);
    }
  }
}
