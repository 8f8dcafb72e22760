import type { SagaContract } from '@troupe/core';
import type { Logger } from 'pino';
import { ContractBook } from '../contract-book.js';
import { TrackerError } from '../errors.js';
import { SAGA_STATUSES, compareEvents, project } from '../projection/index.js';
import type { SagaProjection, SagaStatus } from '../projection/index.js';
import { stuckInfo } from '../stuck.js';
import { compareCopies, eventKey } from '../tracked-event.js';
import type { TrackedEvent } from '../tracked-event.js';
import { ChangeListeners } from './change-listeners.js';
import { MemoryChangeFeed } from './change-feed.js';
import { DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT } from './saga-store.js';
import type {
  ActivityBucket,
  ActivityQuery,
  ConsumedOffset,
  EventBatch,
  FlowGraph,
  ListQuery,
  ListedSaga,
  Page,
  SagaChange,
  FeedWatcher,
  WatchOptions,
  SagaDetail,
  SagaStore,
  SagaSummary,
  PurgeResult,
  RetentionOptions,
  TypeCounts,
  TypeStats,
} from './saga-store.js';
import { matchesSearch, postingKeys, requiredKeys } from './search.js';
import { TypeCounters } from './type-counts.js';
import { StepCounter, checkActivityQuery } from './flow-counts.js';
import { decodeCursor, deviationKinds, encodeCursor, listedBefore, noDeviations, percentiles, summarize } from './summary.js';
import type { ListPosition } from './summary.js';

export interface MemoryStoreOptions {
  /** Contracts by saga type; sagas of other types are projected from headers alone. @default [] */
  readonly contracts?: readonly SagaContract[];
  /** At most this many sagas; beyond, the oldest finished sagas are evicted first. @default 200000 */
  readonly maxSagas?: number;
  /** At most about this many bytes of events (payloads included); beyond, sagas are evicted. @default 268435456 (256 MiB) */
  readonly maxBytes?: number;
  /** How long finished sagas and their payloads are kept, applied by {@link MemorySagaStore.purge}. @default forever */
  readonly retention?: RetentionOptions;
  /** Where evictions are reported (warn). @default none */
  readonly logger?: Logger;
}

interface Entry {
  readonly events: Map<string, TrackedEvent>;
  projection: SagaProjection;
  /** What the counters last counted for this saga. */
  summary: SagaSummary;
  position: ListPosition & { readonly stuckAt: number };
  /** Approximate size of the events held, for the byte bound. */
  bytes: number;
}

/** Rough in-memory size of an event: its strings plus object overhead; payloads dominate when kept. */
function sizeOf(e: TrackedEvent): number {
  return 320 + e.id.length + e.type.length + e.source.length + e.sagaId.length + (e.payload?.length ?? 0) + (e.reason?.length ?? 0);
}

/**
 * The embedded store: everything in this process, nothing survives a restart (the tracker then
 * replays the topics from the beginning). Offsets are not kept: see {@link MemorySagaStore.offsets}.
 */
export class MemorySagaStore implements SagaStore {
  readonly kind = 'memory' as const;
  private readonly contracts: ContractBook;
  private readonly sagas = new Map<string, Entry>();
  private readonly byType = new Map<string, Set<string>>();
  /** Inverted index for search: attribute value, participant, event type → sagas. */
  private readonly postings = new Map<string, Set<Entry>>();
  /**
   * Sagas in reverse list order (oldest start first), so a page costs O(page), not O(sagas), and
   * the usual insert — a saga newer than all others, as when the topics are replayed — is a push.
   */
  private byAge: Entry[] = [];
  private idsDirty = false;
  private bytes = 0;
  private readonly counters = new TypeCounters();
  private readonly maxSagas: number;
  private readonly maxBytes: number;
  /** Saga ids in code-point order, so an id-prefix query finds its range by binary search. */
  private ids: string[] = [];
  /** Ids not yet merged into `ids`: merged once per prefix query instead of spliced per saga. */
  private pendingIds: string[] = [];
  private readonly listeners = new ChangeListeners();
  private readonly feed = new MemoryChangeFeed();

  private constructor(private readonly opts: MemoryStoreOptions) {
    this.contracts = new ContractBook(opts.contracts);
    this.maxSagas = opts.maxSagas ?? 200_000;
    this.maxBytes = opts.maxBytes ?? 256 * 1024 * 1024;
    for (const [name, v] of [
      ['maxSagas', this.maxSagas],
      ['maxBytes', this.maxBytes],
    ] as const) {
      if (!(v > 0)) throw new TrackerError('INVALID_OPTIONS', `${name} must be a positive number, got ${v}.`);
    }
  }

  static create(opts: MemoryStoreOptions = {}): Promise<MemorySagaStore> {
    return Promise.resolve(new MemorySagaStore(opts));
  }

  apply(batch: EventBatch): Promise<SagaChange[]> {
    const touched = new Map<string, { entry: Entry | undefined; events: Map<string, TrackedEvent>; added: boolean; bytes: number }>();
    for (const e of batch.events) {
      let t = touched.get(e.sagaId);
      if (t === undefined) {
        const entry = this.sagas.get(e.sagaId);
        t = { entry, events: entry?.events ?? new Map<string, TrackedEvent>(), added: false, bytes: 0 };
        touched.set(e.sagaId, t);
      }
      const key = eventKey(e);
      const seen = t.events.get(key);
      if (seen === undefined) {
        t.events.set(key, e);
        t.added = true;
        t.bytes += sizeOf(e);
      } else if (compareCopies(e, seen) < 0) {
        // Another copy of a known event: the projection ignores coordinates, so nothing changes.
        t.events.set(key, e);
      }
    }
    const changes: SagaChange[] = [];
    for (const { entry, events, added, bytes } of touched.values()) {
      this.bytes += bytes;
      // A new event always changes the projection (its event count at least); a copy never does.
      if (!added) continue;
      const projection = project(events.values(), this.contracts.of);
      if (entry === undefined) {
        const summary = summarize(projection);
        const created: Entry = { events, projection, summary, position: positionOf(projection), bytes };
        this.counters.add(summary, 1);
        this.sagas.set(projection.sagaId, created);
        this.pendingIds.push(projection.sagaId);
        this.index(created);
        this.post(created, 'add');
        changes.push({ summary });
        continue;
      }
      const before = entry.projection;
      const moved = before.startedAt !== projection.startedAt || before.sagaType !== projection.sagaType;
      // Not moved: the entry keeps its place in `order`; only the cached stuck instant may change.
      if (moved) this.unindex(entry);
      this.post(entry, 'delete');
      entry.projection = projection;
      entry.position = positionOf(projection);
      entry.bytes += bytes;
      this.post(entry, 'add');
      if (moved) this.index(entry);
      this.counters.add(entry.summary, -1);
      entry.summary = summarize(projection);
      this.counters.add(entry.summary, 1);
      changes.push({ previous: before.status, summary: entry.summary });
    }
    this.enforceBounds();
    if (changes.length > 0) {
      this.listeners.emit(changes);
      this.feed.publish(changes);
    }
    return Promise.resolve(changes);
  }

  /**
   * Always empty: a memory store forgets everything on restart, so resuming from a stored
   * offset would skip events it no longer has. The tracker reads every partition from the start.
   */
  offsets(_group: string): Promise<ConsumedOffset[]> {
    return Promise.resolve([]);
  }

  list(q: ListQuery): Promise<Page<ListedSaga>> {
    const limit = Math.min(q.limit ?? DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT);
    const after = q.cursor !== undefined ? decodeCursor(q.cursor) : undefined;
    const statuses = q.status !== undefined && q.status.length > 0 ? new Set<SagaStatus>(q.status) : undefined;
    // A search filter or a selective id prefix is answered from an index; otherwise walk the list order.
    let candidates: ListView = { length: this.byAge.length, at: (i) => this.byAge[this.byAge.length - 1 - i] };
    const keys = requiredKeys(q);
    if (keys.length > 0) {
      const sets = keys.map((k) => this.postings.get(k) ?? new Set<Entry>());
      const smallest = sets.reduce((a, b) => (b.size < a.size ? b : a));
      const matching = [...smallest].sort((a, b) => (listedBefore(a.position, b.position) ? -1 : 1));
      candidates = { length: matching.length, at: (i) => matching[i] };
    } else if (q.idPrefix !== undefined && q.idPrefix !== '') {
      const ids = this.sortedIds();
      const lo = lowerBound(ids, q.idPrefix);
      let hi = lo;
      const cap = lo + Math.max(64, this.byAge.length / 8);
      while (hi < ids.length && hi < cap && (ids[hi] ?? '').startsWith(q.idPrefix)) hi++;
      if (hi < cap) {
        const matching = ids
          .slice(lo, hi)
          .map((id) => this.sagas.get(id))
          .filter((e): e is Entry => e !== undefined)
          .sort((a, b) => (listedBefore(a.position, b.position) ? -1 : 1));
        candidates = { length: matching.length, at: (i) => matching[i] };
      }
    }
    let i = after === undefined ? 0 : indexAfter(candidates, after);
    const items: ListedSaga[] = [];
    for (; i < candidates.length && items.length < limit; i++) {
      const entry = candidates.at(i);
      if (entry === undefined) break;
      const p = entry.projection;
      if (q.type !== undefined && p.sagaType !== q.type) continue;
      if (statuses !== undefined && !statuses.has(p.status)) continue;
      if (q.startedFrom !== undefined && entry.position.startedAt < q.startedFrom) continue;
      if (q.startedTo !== undefined && entry.position.startedAt >= q.startedTo) continue;
      if (q.idPrefix !== undefined && !p.sagaId.startsWith(q.idPrefix)) continue;
      if (q.stuck !== undefined && entry.position.stuckAt <= q.now !== q.stuck) continue;
      if (q.conforming !== undefined && (p.deviations.length === 0) !== q.conforming) continue;
      if (q.deviation !== undefined && !p.deviations.some((d) => d.kind === q.deviation)) continue;
      if (!matchesSearch(p, q)) continue;
      items.push({ ...summarize(p), stuck: stuckInfo(p, q.now) });
    }
    const last = items[items.length - 1];
    const more = items.length === limit && i < candidates.length;
    return Promise.resolve({
      items,
      ...(more && last !== undefined ? { nextCursor: encodeCursor({ startedAt: Date.parse(last.startedAt), sagaId: last.sagaId }) } : {}),
    });
  }

  get(sagaId: string): Promise<SagaDetail | undefined> {
    const entry = this.sagas.get(sagaId);
    if (entry === undefined) return Promise.resolve(undefined);
    return Promise.resolve({ projection: entry.projection, events: [...entry.events.values()].sort(compareEvents) });
  }

  stats(opts: { type?: string; now: number }): Promise<TypeStats[]> {
    const types = opts.type !== undefined ? [opts.type] : [...this.byType.keys()].sort();
    return Promise.resolve(
      types.map((sagaType) => {
        const byStatus = Object.fromEntries(SAGA_STATUSES.map((s) => [s, 0])) as Record<SagaStatus, number>;
        let stuck = 0;
        let nonConforming = 0;
        const deviations = noDeviations();
        const latencies = new Map<string, number[]>();
        const ids = this.byType.get(sagaType) ?? new Set<string>();
        for (const id of ids) {
          const p = this.sagas.get(id)?.projection;
          if (p === undefined) continue;
          byStatus[p.status]++;
          if ((this.sagas.get(id)?.position.stuckAt ?? Infinity) <= opts.now) stuck++;
          const kinds = deviationKinds(p);
          if (kinds.length > 0) nonConforming++;
          for (const k of kinds) deviations[k]++;
          for (const s of p.steps) {
            if (s.latencyMs === undefined) continue;
            let l = latencies.get(s.name);
            if (l === undefined) latencies.set(s.name, (l = []));
            l.push(s.latencyMs);
          }
        }
        const steps = [...latencies.entries()]
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
          .map(([step, values]) => ({ step, ...percentiles(values) }));
        return { sagaType, total: ids.size, byStatus, stuck, nonConforming, deviations, steps };
      }),
    );
  }

  flow(type: string): Promise<FlowGraph> {
    const ids = this.byType.get(type) ?? new Set<string>();
    const edges = new Map<string, { from: string; to: string; latencies: number[] }>();
    const steps = new StepCounter(this.contracts.latest(type));
    for (const id of ids) {
      const p = this.sagas.get(id)?.projection;
      if (p !== undefined) steps.add(p);
      for (const f of p?.flow ?? []) {
        const k = `${f.from}\u0000${f.to}`;
        let e = edges.get(k);
        if (e === undefined) edges.set(k, (e = { from: f.from, to: f.to, latencies: [] }));
        e.latencies.push(f.latencyMs);
      }
    }
    return Promise.resolve({
      sagaType: type,
      sagas: ids.size,
      edges: [...edges.values()]
        .sort((a, b) => (a.from < b.from ? -1 : a.from > b.from ? 1 : a.to < b.to ? -1 : a.to > b.to ? 1 : 0))
        .map((e) => ({ from: e.from, to: e.to, ...percentiles(e.latencies) })),
      steps: steps.result(),
    });
  }

  activity(q: ActivityQuery): Promise<ActivityBucket[]> {
    return Promise.resolve().then(() => {
      checkActivityQuery(q);
      return this.counters.activity(q);
    });
  }

  counts(opts: { type?: string; now: number }): Promise<TypeCounts[]> {
    return Promise.resolve(this.counters.counts(opts.now, opts.type));
  }

  /** Retention: one pass over the sagas (oldest first), run on a timer, never per request. */
  purge(now: number): Promise<PurgeResult> {
    const { finishedMs, payloadsMs } = this.opts.retention ?? {};
    const victims = new Set<Entry>();
    let payloadsDropped = 0;
    for (const entry of this.byAge) {
      const ended =
        entry.projection.endedAt !== undefined && terminal(entry.projection.status) ? Date.parse(entry.projection.endedAt) : undefined;
      if (ended === undefined) continue;
      if (finishedMs !== undefined && ended < now - finishedMs) victims.add(entry);
      else if (payloadsMs !== undefined && ended < now - payloadsMs) payloadsDropped += this.dropPayloads(entry);
    }
    this.remove(victims);
    return Promise.resolve({ sagasDeleted: victims.size, payloadsDropped });
  }

  /** Approximate bytes held and sagas, for tests and the eviction log. */
  usage(): { sagas: number; bytes: number } {
    return { sagas: this.sagas.size, bytes: this.bytes };
  }

  types(): Promise<string[]> {
    return Promise.resolve([...this.byType.keys()].sort());
  }

  ping(): Promise<void> {
    return Promise.resolve();
  }

  onChange(listener: (changes: readonly SagaChange[]) => void): () => void {
    return this.listeners.add(listener);
  }

  watch(watcher: FeedWatcher, opts?: WatchOptions): () => void {
    return this.feed.watch(watcher, opts);
  }

  close(): Promise<void> {
    this.listeners.clear();
    this.feed.clear();
    return Promise.resolve();
  }

  private dropPayloads(entry: Entry): number {
    let n = 0;
    for (const [k, e] of entry.events) {
      if (e.payload === undefined) continue;
      const { payload, ...rest } = e;
      entry.events.set(k, rest);
      entry.bytes -= payload.length;
      this.bytes -= payload.length;
      n++;
    }
    return n;
  }

  /**
   * Keeps the store within its bounds: evicts finished sagas, oldest start first, then — only if
   * that is not enough — running ones, and says so in the log (a running saga evicted is a saga
   * the tracker no longer shows until its next event).
   */
  private enforceBounds(): void {
    if (this.sagas.size <= this.maxSagas && this.bytes <= this.maxBytes) return;
    const victims = new Set<Entry>();
    let sagas = this.sagas.size;
    let bytes = this.bytes;
    const over = (): boolean => sagas > this.maxSagas || bytes > this.maxBytes;
    for (const finishedOnly of [true, false]) {
      for (const entry of this.byAge) {
        if (!over()) break;
        if (victims.has(entry) || (finishedOnly && !terminal(entry.projection.status))) continue;
        victims.add(entry);
        sagas--;
        bytes -= entry.bytes;
      }
    }
    const running = [...victims].filter((e) => !terminal(e.projection.status)).length;
    this.remove(victims);
    this.opts.logger?.warn(
      { evicted: victims.size, running, sagas: this.sagas.size, bytes: this.bytes, maxSagas: this.maxSagas, maxBytes: this.maxBytes },
      `memory store full: evicted ${victims.size} sagas (${running} still running), oldest finished first. Raise maxSagas/maxBytes, shorten retention, or use the postgres store.`,
    );
  }

  private remove(victims: ReadonlySet<Entry>): void {
    if (victims.size === 0) return;
    this.byAge = this.byAge.filter((e) => !victims.has(e));
    for (const entry of victims) {
      this.byType.get(entry.projection.sagaType)?.delete(entry.projection.sagaId);
      if (this.byType.get(entry.projection.sagaType)?.size === 0) this.byType.delete(entry.projection.sagaType);
      this.post(entry, 'delete');
      this.counters.add(entry.summary, -1);
      this.sagas.delete(entry.projection.sagaId);
      this.bytes -= entry.bytes;
    }
    this.idsDirty = true;
  }

  private sortedIds(): readonly string[] {
    if (this.idsDirty) {
      // Evicted ids leave, and an id evicted then seen again must not appear twice.
      this.ids = [...new Set([...this.ids, ...this.pendingIds])].filter((id) => this.sagas.has(id)).sort();
      this.pendingIds = [];
      this.idsDirty = false;
    }
    if (this.pendingIds.length > 0) {
      const add = this.pendingIds.sort();
      const merged: string[] = new Array<string>(this.ids.length + add.length);
      let i = 0;
      let j = 0;
      let k = 0;
      while (i < this.ids.length || j < add.length) {
        const a = this.ids[i];
        const b = add[j];
        if (b === undefined || (a !== undefined && a <= b)) merged[k++] = this.ids[i++] as string;
        else merged[k++] = add[j++] as string;
      }
      this.ids = merged;
      this.pendingIds = [];
    }
    return this.ids;
  }

  private index(entry: Entry): void {
    this.byAge.splice(ageIndexOf(this.byAge, entry.position), 0, entry);
    let ids = this.byType.get(entry.projection.sagaType);
    if (ids === undefined) this.byType.set(entry.projection.sagaType, (ids = new Set()));
    ids.add(entry.projection.sagaId);
  }

  /** Adds an entry to (or removes it from) the search postings of its current projection. */
  private post(entry: Entry, op: 'add' | 'delete'): void {
    for (const k of postingKeys(entry.projection)) {
      let set = this.postings.get(k);
      if (set === undefined) {
        if (op === 'delete') continue;
        this.postings.set(k, (set = new Set()));
      }
      set[op](entry);
      if (set.size === 0) this.postings.delete(k);
    }
  }

  /** Removes an entry from the indexes under its current (not yet updated) projection. */
  private unindex(entry: Entry): void {
    const at = ageIndexOf(this.byAge, entry.position);
    const i = this.byAge[at] === entry ? at : this.byAge.indexOf(entry);
    if (i >= 0) this.byAge.splice(i, 1);
    this.byType.get(entry.projection.sagaType)?.delete(entry.projection.sagaId);
  }
}

const terminal = (s: SagaStatus): boolean => s !== 'running' && s !== 'compensating';

function positionOf(p: SagaProjection): ListPosition & { stuckAt: number } {
  // Parsed once here, so filtering 100k sagas by "stuck" compares numbers, not strings.
  return {
    startedAt: Date.parse(p.startedAt),
    sagaId: p.sagaId,
    stuckAt: p.stuckAfter !== undefined ? Date.parse(p.stuckAfter) : Infinity,
  };
}

/** Entries by index in list order (newest first), whatever array holds them. */
interface ListView {
  readonly length: number;
  at(i: number): Entry | undefined;
}

/** First index in `byAge` (oldest first) whose entry is not listed after `pos`: where `pos` goes. */
function ageIndexOf(byAge: readonly Entry[], pos: ListPosition): number {
  let lo = 0;
  let hi = byAge.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const e = byAge[mid];
    if (e !== undefined && listedBefore(pos, e.position)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index in `list` (in list order) of an entry listed after `pos`. */
function indexAfter(list: ListView, pos: ListPosition): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const e = list.at(mid);
    if (e !== undefined && (listedBefore(e.position, pos) || samePosition(e.position, pos))) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index in a sorted string array whose value is not below `v`. */
function lowerBound(sorted: readonly string[], v: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid] ?? '') < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function samePosition(a: ListPosition, b: ListPosition): boolean {
  return a.startedAt === b.startedAt && a.sagaId === b.sagaId;
}
