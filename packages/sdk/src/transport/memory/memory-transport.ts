import { SdkError, throwIfInvalid } from '../../errors.js';
import { OptionChecks } from '@troupe/core';
import { partitionForKey } from '../murmur2.js';
import { Semaphore } from '../../util/semaphore.js';
import { systemClock, VirtualClock, type Clock } from '../../timers/clock.js';
import { mergeBatch, type MergeSource, type QueuedRecord } from '../merge.js';
import { DEFAULT_MAX_MESSAGE_BYTES, recordSize } from '../record-size.js';
import type { BatchOutcome, ConsumerHandle, ConsumerSpec, InboundMessage, OutboundRecord, TopicSpec, Transport } from '../transport.js';

export interface MemoryTransportOptions {
  /**
   * Pause before a batch whose handler threw (or finished nothing) is delivered again.
   * @default 20
   */
  readonly redeliveryDelayMs?: number;
  /**
   * Time source of record timestamps, redelivery pauses, retry delays and timers. A
   * `VirtualClock` makes them move only when the test advances it (`clock.advance('10m')`).
   * @default the wall clock
   */
  readonly clock?: Clock;
  /**
   * Largest record a topic accepts, as Kafka's `max.message.bytes`: a larger one makes its append
   * (or the batch's commit) fail with OUTPUT_REFUSED, as the broker refuses it with MESSAGE_TOO_LARGE.
   * @default 1_048_588 (Kafka's default)
   */
  readonly maxMessageBytes?: number;
}

type Listener = (record: InboundMessage) => void;

interface Member {
  readonly id: number;
  readonly spec: ConsumerSpec;
  readonly owned: Set<string>;
  readonly semaphore: Semaphore;
  /** Per partition number. */
  readonly workers: Map<number, { running: boolean; done: Promise<void> }>;
  stopped: boolean;
}

interface Group {
  readonly members: Member[];
  readonly committed: Map<string, number>;
  /** The batch in flight per partition number: a new owner waits for it, as Kafka waits for revocation. */
  readonly inflight: Map<number, Promise<void>>;
}

/** The lane name of empty batches asked for by `wakeAt` (no topic has this name). */
const TICK_LANE = '\u0000tick';

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
  private readonly maxBytes: number;
  private nextMemberId = 1;
  /** Append order across all topics: the merge order of a partition number's topics. */
  private readonly seq = new WeakMap<InboundMessage, number>();
  private nextSeq = 0;
  private closed = false;
  readonly clock: Clock;
  /** Workers not waiting for records or time; with a virtual clock, time moves on once it is 0. */
  private busy = 0;
  private idleWaiters: (() => void)[] = [];
  private readonly unsettle: (() => void) | undefined;

  private constructor(opts: MemoryTransportOptions) {
    const check = new OptionChecks();
    this.redeliveryDelayMs = check.number('redeliveryDelayMs', opts.redeliveryDelayMs ?? 20);
    this.maxBytes = check.int('maxMessageBytes', opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES);
    throwIfInvalid(check, 'memory transport');
    this.clock = opts.clock ?? systemClock;
    if (this.clock instanceof VirtualClock) this.unsettle = this.clock.onSettle(() => this.idle());
  }

  /** Resolves once every worker waits for records or time (no handler running, nothing due). */
  idle(): Promise<void> {
    if (this.busy === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private setBusy(by: number): void {
    this.busy += by;
    if (this.busy > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    // Checked again a turn later: a worker woken by the same append may not have started yet.
    setImmediate(() => {
      if (this.busy === 0) for (const w of waiters) w();
      else this.idleWaiters.push(...waiters);
    });
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

  readPartition(
    topic: string,
    partition: number,
    fromOffset: string,
    opts: { readonly last?: number } = {},
  ): Promise<readonly InboundMessage[]> {
    const log = this.logs.get(topic)?.[partition] ?? [];
    const from = Math.max(Number(fromOffset), opts.last === undefined ? 0 : log.length - opts.last);
    return Promise.resolve(log.slice(from));
  }

  maxMessageBytes(topics: readonly string[]): Promise<ReadonlyMap<string, number>> {
    return Promise.resolve(new Map(topics.filter((t) => this.logs.has(t)).map((t) => [t, this.maxBytes])));
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
        await Promise.all([...member.workers.values()].map((w) => w.done));
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
    await Promise.all(members.flatMap((m) => [...m.workers.values()].map((w) => w.done)));
    this.closed = true;
    this.unsettle?.();
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
      if (recordSize(r) > this.maxBytes) {
        throw new SdkError(
          'OUTPUT_REFUSED',
          `MESSAGE_TOO_LARGE: a record of ${recordSize(r)} bytes for ${r.topic} is larger than max.message.bytes (${this.maxBytes})`,
        );
      }
    }
    const now = String(this.clock.now());
    const appended: InboundMessage[] = [];
    for (const r of records) {
      const log = this.logs.get(r.topic) ?? [];
      const partition = r.partition ?? (r.key === null ? Math.floor(Math.random() * log.length) : partitionForKey(r.key, log.length));
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
      this.seq.set(msg, this.nextSeq++);
      appended.push(msg);
      const w = this.waiters.get(tpKey(r.topic, partition));
      if (w) {
        this.waiters.delete(tpKey(r.topic, partition));
        for (const wake of w) wake();
      }
    }
    for (const msg of appended) for (const l of this.listeners) l(msg);
  }

  /** Resolves at the next append to one of the topic-partitions, at a wake-up, or after `ms`. */
  private waitForAppend(keys: readonly string[], ms?: number): Promise<void> {
    this.setBusy(-1);
    return new Promise((resolve) => {
      let cancel: (() => void) | undefined;
      let woken = false;
      const wake = (): void => {
        if (woken) return;
        woken = true;
        // Busy again at once: an idle check in the same turn must not see this worker idle.
        this.setBusy(1);
        cancel?.();
        for (const key of keys) this.waiters.get(key)?.delete(wake);
        resolve();
      };
      for (const key of keys) {
        let set = this.waiters.get(key);
        if (!set) {
          set = new Set();
          this.waiters.set(key, set);
        }
        set.add(wake);
      }
      if (ms !== undefined) cancel = this.clock.setTimer(Math.max(1, ms), wake);
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
          this.startWorker(group, m, splitTp(key).partition);
        }
      }
      if (changed) m.spec.onAssignment?.([...m.owned].map(splitTp));
    }
    this.wakeAll();
  }

  /** A worker per partition number; one still running picks up newly owned topics by itself. */
  private startWorker(group: Group, member: Member, partition: number): void {
    const previous = member.workers.get(partition);
    if (previous?.running) return;
    const state = { running: true, done: Promise.resolve() };
    this.setBusy(1);
    const run = async (): Promise<void> => {
      // Starts after the rebalance that started it has assigned every topic of the number.
      await (previous ? previous.done : Promise.resolve());
      await this.work(group, member, partition, state);
    };
    state.done = run().finally(() => {
      this.setBusy(-1);
      state.running = false;
      if (member.workers.get(partition) === state) member.workers.delete(partition);
    });
    member.workers.set(partition, state);
  }

  /**
   * Handles one partition number: the member's topics with that number are merged in append
   * order (what Kafka's timestamp merge approximates), standalone topics each in their own lane.
   */
  private async work(group: Group, member: Member, partition: number, state: { running: boolean }): Promise<void> {
    const spec = member.spec;
    const standalone = new Set(spec.standaloneTopics ?? []);
    const notBefore = new Map<string, number>();
    let nextLane = 0;
    const ownedTopics = (): string[] => spec.topics.filter((t) => member.owned.has(tpKey(t, partition)));
    const owns = (): boolean => !member.stopped && !this.closed && ownedTopics().length > 0;
    for (;;) {
      if (!owns()) {
        state.running = false;
        return;
      }
      const before = group.inflight.get(partition);
      if (before) {
        await before;
        continue;
      }
      const topics = ownedTopics();
      const position = (topic: string): number => {
        const key = tpKey(topic, partition);
        let at = group.committed.get(key);
        if (at === undefined) {
          at = spec.fromBeginning ? 0 : (this.logs.get(topic)?.[partition]?.length ?? 0);
          group.committed.set(key, at);
        }
        return at;
      };
      const lanes: { name: string; topics: string[] }[] = [];
      const merged = topics.filter((t) => !standalone.has(t));
      if (merged.length > 0) lanes.push({ name: '', topics: merged });
      for (const t of topics.filter((x) => standalone.has(x))) lanes.push({ name: t, topics: [t] });
      const now = this.clock.now();
      let soonest = Number.POSITIVE_INFINITY;
      let picked: { lane: string; records: readonly QueuedRecord[] } | undefined;
      // Timers falling due: an empty batch whose outputs are appended on their own.
      const wake = spec.wakeAt?.(partition);
      if (wake !== undefined) {
        const at = Math.max(wake, notBefore.get(TICK_LANE) ?? 0);
        if (at <= now) picked = { lane: TICK_LANE, records: [] };
        else soonest = at;
      }
      for (let k = 0; k < lanes.length && !picked; k++) {
        const lane = lanes[(nextLane + k) % lanes.length];
        if (!lane) continue;
        const sources: MergeSource[] = lane.topics.map((topic) => {
          const from = position(topic);
          const log = this.logs.get(topic)?.[partition] ?? [];
          return {
            topic,
            rank: spec.topics.indexOf(topic),
            records: log
              .slice(from, from + spec.maxBatchSize)
              .map((message) => ({ message, ts: this.seq.get(message) ?? 0, offset: BigInt(message.offset), bytes: 0 })),
            caughtUpAsOf: Number.POSITIVE_INFINITY,
            waitedEnough: true,
          };
        });
        if (sources.every((x) => x.records.length === 0)) continue;
        const due = notBefore.get(lane.name) ?? 0;
        if (due > now) {
          soonest = Math.min(soonest, due);
          continue;
        }
        picked = { lane: lane.name, records: mergeBatch(sources, spec.maxBatchSize).records };
        nextLane = (nextLane + k + 1) % lanes.length;
      }
      if (!picked) {
        await this.waitForAppend(
          topics.map((t) => tpKey(t, partition)),
          Number.isFinite(soonest) ? soonest - now : undefined,
        );
        continue;
      }
      const release = await member.semaphore.acquire();
      let done!: () => void;
      group.inflight.set(partition, new Promise<void>((r) => (done = r)));
      let pauseMs: number | undefined;
      try {
        if (!owns()) continue;
        const records = picked.records;
        let outcome: BatchOutcome | undefined;
        try {
          outcome = await spec.handle({
            partition,
            messages: records.map((r) => r.message),
            isStale: () => !owns(),
            heartbeat: () => Promise.resolve(),
          });
          const processed = Math.max(0, Math.min(outcome.processed, records.length));
          if (processed < records.length && (processed === 0 || outcome.retryAfterMs !== undefined)) {
            pauseMs = outcome.retryAfterMs ?? this.redeliveryDelayMs;
          }
          if (processed > 0 || records.length === 0) {
            this.append(outcome.outputs);
            for (const r of records.slice(0, processed)) group.committed.set(tpKey(r.message.topic, partition), Number(r.offset) + 1);
            outcome.afterCommit?.();
          }
        } catch (err) {
          // Nothing of the batch is committed; it is delivered again from the committed offsets.
          outcome?.onCommitFailed?.(err);
          pauseMs = this.redeliveryDelayMs;
        }
      } finally {
        group.inflight.delete(partition);
        done();
        release();
      }
      if (pauseMs !== undefined) notBefore.set(picked.lane, this.clock.now() + pauseMs);
    }
  }
}
