// The JSON bodies of the HTTP API, one type per route. The server's handlers return these and the
// web page (ui/app.js, type-checked with JSDoc) reads them, so neither can drift from the other.
import type { SagaContract } from '@troupe/core';
import type { SagaProjection } from '../projection/index.js';
import type { StuckInfo } from '../stuck.js';
import type { ActivityBucket, FlowGraph, ListedSaga, Page, SagaChange, TypeStats } from '../store/saga-store.js';
import type { TrackedEvent } from '../tracked-event.js';

/** `GET /api/sagas`. */
export type SagaListResponse = Page<ListedSaga>;

/** One event of a saga's timeline: the tracked event, with its payload decoded on request. */
export interface TimelineEntry extends Omit<TrackedEvent, 'payload'> {
  /** With `?payloads=true`: the decoded payload, or `{ base64 }` without a registry. */
  readonly payload?: unknown;
  readonly payloadError?: string;
}

/** `GET /api/sagas/:id`. */
export interface SagaDetailResponse extends SagaProjection {
  readonly stuck: StuckInfo;
  /** The contract of the version the saga started with. */
  readonly contract: SagaContract | null;
  readonly timeline: readonly TimelineEntry[];
  /** The saga's trace (from its start event's `traceparent`), when its events carry one. */
  readonly traceId?: string;
  /** `traceId` in the configured trace viewer (`traceUrl` option), e.g. Jaeger or Tempo. */
  readonly traceUrl?: string;
}

/** `GET /api/stats`. */
export interface StatsResponse {
  /** The instant "stuck" was judged at. */
  readonly at: string;
  readonly types: readonly TypeStats[];
}

/** `GET /api/types`. */
export interface TypesResponse {
  /** `contract`: the newest version; `versions`: every contract version known (oldest first). */
  readonly types: readonly { readonly name: string; readonly contract: SagaContract | null; readonly versions: readonly number[] }[];
}

/** `GET /api/types/:type/flow`. */
export interface FlowResponse extends FlowGraph {
  readonly contract: SagaContract | null;
  /**
   * The contract's steps in the order they run: one column per stage, several steps in a column
   * when they run in parallel. Empty without a contract.
   */
  readonly stages: readonly (readonly string[])[];
}

/** `GET /api/activity`: sagas started and ended per bucket, oldest bucket first. */
export interface ActivityResponse {
  readonly from: string;
  readonly bucketMs: number;
  readonly buckets: readonly ActivityBucket[];
}

/** The `data` of an `event: saga` message on `GET /api/stream`. */
export type SagaStreamEvent = SagaChange;

/** Every error answer: a code and a message that says what to fix. */
export interface ErrorResponse {
  readonly error: string;
  readonly message: string;
}
