// The projection's public surface; stages stay internal to this folder.
export { project } from './project.js';
export { compareEvents } from './fold.js';
export { DEVIATION_KINDS, PROJECTION_VERSION, SAGA_STATUSES, STEP_STATUSES } from './types.js';
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
  Deviation,
  DeviationKind,
  ContractSource,
} from './types.js';
