export const PACKAGE_NAME = '@troupe/saga-tracker';
export { TrackerError } from './errors.js';
export type { TrackerErrorCode } from './errors.js';
export { eventKey, compareCopies } from './tracked-event.js';
export type { TrackedEvent, DeadLetterInfo } from './tracked-event.js';
export { project, compareEvents, SAGA_STATUSES, STEP_STATUSES, DEVIATION_KINDS } from './projection/index.js';
export type {
  SagaProjection,
  SagaStatus,
  StepState,
  StepStatus,
  Failure,
  FailureKind,
  DeadLetter,
  SagaAbort,
  CausalNode,
  CausalEdge,
  FlowStep,
  Awaiting,
  ContractSource,
  Deviation,
  DeviationKind,
} from './projection/index.js';
export { stuckInfo, formatDuration } from './stuck.js';
export type { StuckInfo } from './stuck.js';
export { MemorySagaStore } from './store/memory-store.js';
export type { MemoryStoreOptions } from './store/memory-store.js';
export { PostgresSagaStore } from './store/postgres-store.js';
export type { PostgresStoreOptions } from './store/postgres-store.js';
export type {
  SagaStore,
  EventBatch,
  ConsumedOffset,
  SagaSummary,
  SagaChange,
  ListQuery,
  ListedSaga,
  Page,
  SagaDetail,
  TypeStats,
  FlowGraph,
  FlowEdge,
  StepCounts,
  ActivityBucket,
  ActivityQuery,
  Percentiles,
  TypeCounts,
  RetentionOptions,
  PurgeResult,
} from './store/saga-store.js';
export type { FeedEntry, FeedWatcher, WatchOptions } from './store/saga-store.js';
export { buildTrackerApp } from './http/app.js';
export type { TrackerAppOptions, HealthReport } from './http/app.js';
export type { TrackerAccess, TrackerAuthOptions } from './http/auth.js';
export type {
  SagaListResponse,
  SagaDetailResponse,
  TimelineEntry,
  StatsResponse,
  TypesResponse,
  FlowResponse,
  ActivityResponse,
  SagaStreamEvent,
  ErrorResponse,
} from './http/api-types.js';
export { TrackerMetrics } from './metrics.js';
export { WebhookAlerts, ALERT_KINDS } from './alerts/webhook-alerts.js';
export type { WebhookAlertOptions, SagaAlert, AlertKind } from './alerts/webhook-alerts.js';
export { SagaTracker, topicsOfContracts } from './tracker.js';
export type { SagaTrackerOptions } from './tracker.js';
export { KafkaIngest } from './ingest/kafka-ingest.js';
export type { KafkaIngestOptions, IngestState } from './ingest/kafka-ingest.js';
export { toTrackedEvent } from './ingest/to-tracked-event.js';
export type { RawRecord, ConvertOptions, Converted } from './ingest/to-tracked-event.js';
export { buildTrackerCli, runTrackerCli } from './cli/program.js';
export type { TrackerCliRun } from './cli/program.js';
