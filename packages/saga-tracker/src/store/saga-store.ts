import type { DeviationKind, Failure, SagaAbort, SagaProjection, SagaStatus, StepStatus } from '../projection/index.js';
import type { StuckInfo } from '../stuck.js';
import type { TrackedEvent } from '../tracked-event.js';

/** The next offset to read from one partition, as stored with the events read before it. */
export interface ConsumedOffset {
  readonly topic: string;
  readonly partition: number;
  /** Decimal string: the offset of the next record to consume. */
  readonly next: string;
}

/** Events read from Kafka, applied atomically together with the offsets they advance. */
export interface EventBatch {
  readonly events: readonly TrackedEvent[];
  /** Consumer group the offsets belong to; required with `offsets`. */
  readonly group?: string;
  readonly offsets?: readonly ConsumedOffset[];
}

/** The row shown in lists: a projection's headline fields. */
export interface SagaSummary {
  readonly sagaId: string;
  readonly sagaType: string;
  readonly status: SagaStatus;
  readonly startedAt: string;
  readonly endedAt?: string;
  readonly lastEventAt: string;
  readonly eventCount: number;
  readonly failureCount: number;
  /** The step awaited next, for running and compensating sagas (`payment ∥ inventory` when several are). */
  readonly currentStep?: string;
  readonly stuckAfter?: string;
  /** Business attributes from the contract, e.g. `{ customerId: '42', country: 'DE' }`. */
  readonly attributes: Readonly<Record<string, string>>;
  /** Kinds of deviation from the contract found in the saga (each once, in DEVIATION_KINDS order). */
  readonly deviationKinds: readonly DeviationKind[];
  /** The most severe failure (compensation-failed, then dead-letter, then step-failed), if any. */
  readonly failure?: Pick<Failure, 'kind' | 'step' | 'participant' | 'reason'>;
  /** The first deviation's message, if any. */
  readonly deviation?: string;
  /** Present when the saga timed out (`kind: 'timeout'`) or an operator aborted it: who and why. */
  readonly abort?: Pick<SagaAbort, 'kind' | 'cause' | 'step' | 'reason' | 'by'>;
}

/** A saga whose projection changed in an {@link SagaStore.apply}. */
export interface SagaChange {
  readonly previous?: SagaStatus;
  readonly summary: SagaSummary;
}

/** One change on a store's change feed: its position (an SSE event id) and the change. */
export interface FeedEntry {
  /** Decimal position in the feed, dense and increasing in commit order. */
  readonly id: string;
  readonly change: SagaChange;
}

/** Receives the feed from where it asked to start. */
export interface FeedWatcher {
  /** Entries in feed order, each exactly once. */
  changes(entries: readonly FeedEntry[]): void;
  /**
   * The position asked for is no longer (or never was) in the feed: changes were missed and the
   * watcher should reload what it shows. Entries after the current head follow as usual.
   */
  gap?(): void;
}

export interface WatchOptions {
  /** Start after this feed id (a reconnecting client's `Last-Event-ID`). @default the current head */
  readonly after?: string;
}

export interface ListQuery {
  readonly type?: string;
  readonly status?: readonly SagaStatus[];
  /** true: only sagas stuck at `now`; false: only those not stuck. */
  readonly stuck?: boolean;
  /** Sagas started at or after this instant (ms since epoch). */
  readonly startedFrom?: number;
  /** Sagas started before this instant (ms since epoch). */
  readonly startedTo?: number;
  readonly idPrefix?: string;
  /** true: only sagas without deviations from their contract; false: only those with some. */
  readonly conforming?: boolean;
  /** Only sagas with a deviation of this kind. */
  readonly deviation?: DeviationKind;
  /** Only sagas whose contract attributes have these values (exact match), e.g. `{ customerId: '42' }`. */
  readonly attributes?: Readonly<Record<string, string>>;
  /** Only sagas in which this participant emitted an event (or dead-lettered one). */
  readonly participant?: string;
  /** Only sagas with an event of this type (Avro full name). */
  readonly eventType?: string;
  /** Only sagas with a failure whose reason contains this text (case-insensitive). */
  readonly reason?: string;
  /** @default 50 */
  readonly limit?: number;
  /** From the previous page's `nextCursor`. */
  readonly cursor?: string;
  /** The instant "stuck" is judged at (ms since epoch). */
  readonly now: number;
}

export interface ListedSaga extends SagaSummary {
  readonly stuck: StuckInfo;
}

export interface Page<T> {
  readonly items: readonly T[];
  /** Present when more items may follow; pass it back as `cursor`. */
  readonly nextCursor?: string;
}

export interface SagaDetail {
  readonly projection: SagaProjection;
  /** Every event of the saga in projection order (the timeline). */
  readonly events: readonly TrackedEvent[];
}

export interface Percentiles {
  readonly count: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
}

export interface TypeStats extends TypeCounts {
  /** Latency of each step's outcome (ms), over sagas where the step completed or failed. */
  readonly steps: readonly ({ readonly step: string } & Percentiles)[];
}

export interface FlowEdge extends Percentiles {
  readonly from: string;
  readonly to: string;
}

/** Sagas of a type per state of one step, and those awaiting it now. */
export interface StepCounts {
  readonly step: string;
  /** Non-terminal sagas waiting for this step's outcome (or its compensation). */
  readonly awaiting: number;
  readonly byStatus: Readonly<Record<StepStatus, number>>;
  /** Deviations attributed to this step, over all sagas of the type. */
  readonly deviations: number;
}

/** Which event type followed which, over all sagas of a type: the choreography as it runs. */
export interface FlowGraph {
  readonly sagaType: string;
  readonly sagas: number;
  readonly edges: readonly FlowEdge[];
  /** Per step (contract order, then observed-only steps by name). */
  readonly steps: readonly StepCounts[];
}

/** Sagas that started, and that ended by outcome, in one time bucket. */
export interface ActivityBucket {
  /** Start of the bucket (ISO-8601). */
  readonly at: string;
  readonly started: number;
  readonly completed: number;
  readonly compensated: number;
  readonly failed: number;
}

export interface ActivityQuery {
  readonly type?: string;
  /** Start of the first bucket (ms since epoch). */
  readonly from: number;
  readonly bucketMs: number;
  readonly buckets: number;
}

/**
 * Where projections live. Every implementation must pass the shared contract suite
 * (`saga-store.case.ts`): same events in → same answers out, whatever the store.
 */
export interface SagaStore {
  readonly kind: 'memory' | 'postgres';
  /**
   * Adds events to their sagas' sets and re-projects those sagas, atomically with `offsets`.
   * Idempotent: applying a batch again changes nothing. Returns the sagas whose projection changed.
   */
  apply(batch: EventBatch): Promise<SagaChange[]>;
  /** Offsets stored by {@link apply} for a consumer group; empty when the store keeps none. */
  offsets(group: string): Promise<ConsumedOffset[]>;
  list(query: ListQuery): Promise<Page<ListedSaga>>;
  get(sagaId: string): Promise<SagaDetail | undefined>;
  /** Statistics per saga type (all types when `type` is omitted), judged at `now`. */
  stats(opts: { type?: string; now: number }): Promise<TypeStats[]>;
  flow(type: string): Promise<FlowGraph>;
  /** Sagas started and ended (by outcome) per time bucket: the overview chart. Reads an index range, never every saga. */
  activity(q: ActivityQuery): Promise<ActivityBucket[]>;
  /**
   * Sagas per type by status, stuck at `now`, and non-conforming, from counters kept up to date
   * on every change: what a metrics scrape reads, without scanning the sagas.
   */
  counts(opts: { type?: string; now: number }): Promise<TypeCounts[]>;
  /**
   * Applies retention at `now`: deletes finished sagas that ended more than `finishedMs` ago and
   * drops the payloads of those that ended more than `payloadsMs` ago (when configured).
   */
  purge(now: number): Promise<PurgeResult>;
  /** Saga types seen, sorted. */
  types(): Promise<string[]>;
  /** Throws when the store cannot answer (for `/health`). */
  ping(): Promise<void>;
  /**
   * Observes the changes THIS instance commits (alerts, metrics); returns the function that stops
   * observing. For what every instance sharing the store commits, use {@link watch}.
   */
  onChange(listener: (changes: readonly SagaChange[]) => void): () => void;
  /**
   * The change feed: changes committed by any instance sharing the store, in commit order, each
   * with an id to resume after (`Last-Event-ID`). Returns the function that stops watching.
   */
  watch(watcher: FeedWatcher, opts?: WatchOptions): () => void;
  close(): Promise<void>;
}

/** Counts of one saga type, kept up to date as sagas change (a metrics scrape reads, never scans). */
export interface TypeCounts {
  readonly sagaType: string;
  readonly total: number;
  readonly byStatus: Readonly<Record<SagaStatus, number>>;
  /** Non-terminal sagas past their contract's limits at the instant asked for. */
  readonly stuck: number;
  readonly nonConforming: number;
  readonly deviations: Readonly<Record<DeviationKind, number>>;
}

/** How long finished sagas and their payloads are kept; unset: forever. */
export interface RetentionOptions {
  /** Finished (completed, compensated, failed) sagas are deleted this long after they ended. */
  readonly finishedMs?: number;
  /** Payloads of finished sagas are dropped this long after they ended (shorter than `finishedMs`). */
  readonly payloadsMs?: number;
}

export interface PurgeResult {
  readonly sagasDeleted: number;
  readonly payloadsDropped: number;
}

export const DEFAULT_LIST_LIMIT = 50;
export const MAX_LIST_LIMIT = 500;
