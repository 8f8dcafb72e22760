export const PACKAGE_NAME = '@troupe/saga-tracker';
export { TrackerError } from './errors.js';
export type { TrackerErrorCode } from './errors.js';
export { eventKey, compareCopies } from './tracked-event.js';
export type { TrackedEvent, DeadLetterInfo } from './tracked-event.js';
export { project, compareEvents, SAGA_STATUSES } from './projection.js';
export type {
  SagaProjection,
  SagaStatus,
  StepState,
  StepStatus,
  Failure,
  FailureKind,
  DeadLetter,
  CausalNode,
  CausalEdge,
  FlowStep,
  Awaiting,
} from './projection.js';
export { stuckInfo, formatDuration } from './stuck.js';
export type { StuckInfo } from './stuck.js';
