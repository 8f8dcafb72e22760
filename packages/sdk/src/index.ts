export { Publisher } from './publisher.js';
export type { PublisherOptions, PublishOptions } from './publisher.js';
export { Participant } from './participant.js';
export type { ParticipantHealth } from './participant.js';
export type { ParticipantOptions } from './participant-options.js';
export { on, step } from './handlers.js';
export type {
  HandlerContext,
  StepContext,
  CompensationContext,
  CompensationTrigger,
  EmitOptions,
  HandlerArgs,
  HandlerDefinition,
  StepDefinition,
  EventHandlerDefinition,
} from './handlers.js';
export { MemoryTransport } from './memory-transport.js';
export type { MemoryTransportOptions } from './memory-transport.js';
export type {
  Transport,
  TopicSpec,
  OutboundRecord,
  InboundMessage,
  PartitionBatch,
  BatchOutcome,
  ConsumerSpec,
  ConsumerHandle,
  DeliveryMode,
} from './transport.js';
export { SdkError } from './errors.js';
export type { SdkErrorCode } from './errors.js';
export type { RetryOptions } from './retry-policy.js';
export { MemoryIdempotencyStore } from './idempotency/memory-idempotency-store.js';
export { PostgresIdempotencyStore } from './idempotency/postgres-idempotency-store.js';
export type { PostgresIdempotencyStoreOptions } from './idempotency/postgres-idempotency-store.js';
export type { IdempotencyStore } from './idempotency/idempotency-store.js';
export { DLQ_HEADER, MARKER_HEADER, readDeadLetter, replayRecord, defaultDeadLetterTopic } from './dead-letter.js';
export type { DeadLetterReason, DeadLetterInfo } from './dead-letter.js';
export { ROUTING_SLIP_HEADER, readRoutingSlip } from './routing-slip.js';
export { partitionForKey } from './murmur2.js';
export { KafkaTransport } from './kafka-transport.js';
export type { KafkaTransportOptions } from './kafka-transport.js';
export { shutdownGracefully } from './shutdown.js';
export type { GracefulShutdownOptions } from './shutdown.js';
export { listDeadLetters, replayDeadLetters } from './dead-letter-tool.js';
export type { DeadLetterEntry, DeadLetterFilter } from './dead-letter-tool.js';
export { readTopicToEnd } from './topic-reader.js';
export { OperationsServer } from './operations-server.js';
export type { OperationsServerOptions } from './operations-server.js';
export type { RetryTopicOptions } from './retry-topic.js';
