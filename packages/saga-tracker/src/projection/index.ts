// The projection's public surface; stages stay internal to this folder.
export { project } from './project.js';
export { compareEvents } from './fold.js';
export { SAGA_STATUSES } from './types.js';
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
  ContractSource,
} from './types.js';
