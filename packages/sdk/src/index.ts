export { Publisher } from './publisher/publisher.js';
export type { PublisherOptions, PublishOptions } from './publisher/publisher.js';
export { Participant } from './participant/participant.js';
export type { ParticipantHealth } from './participant/health.js';
export type { ParticipantOptions } from './participant/participant-options.js';
export { on, step } from './participant/handlers.js';
export type {
  HandlerContext,
  StepContext,
  CompensationContext,
  CompensationTrigger,
  EmitOptions,
  HandlerArgs,
  HandlerDefinition,
  StepDefinition,
  StepImplementation,
  StepOutcome,
  EventHandlerDefinition,
} from './participant/handlers.js';
// The context handlers receive, built as the runtime builds it; for test kits (`testStep`).
export { EventContext } from './participant/event-context.js';
export type { EventContextDeps } from './participant/event-context.js';
export { MemoryTransport } from './transport/memory/memory-transport.js';
export type { MemoryTransportOptions } from './transport/memory/memory-transport.js';
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
} from './transport/transport.js';
export { SdkError } from './errors.js';
export type { SdkErrorCode } from './errors.js';
export type { RetryOptions } from './retry/retry-policy.js';
export { MemoryIdempotencyStore } from './idempotency/memory-idempotency-store.js';
export { PostgresIdempotencyStore } from './idempotency/postgres-idempotency-store.js';
export type { PostgresIdempotencyStoreOptions } from './idempotency/postgres-idempotency-store.js';
export type { IdempotencyStore } from './idempotency/idempotency-store.js';
export { TopicInbox } from './inbox/topic-inbox.js';
export type { InboxOptions } from './inbox/topic-inbox.js';
export type { Inbox, InboxBatch, InboxEntry } from './inbox/inbox.js';
export { DEAD_LETTER_REASONS, DLQ_HEADER, MARKER_HEADER, readDeadLetter, defaultDeadLetterTopic } from './dead-letter/dead-letter.js';
export { replayRecords, readReplayNote, replayTargetOf } from './dead-letter/replay.js';
export type { ReplayBy, ReplayNote } from './dead-letter/replay.js';
export type { DeadLetterReason, DeadLetterInfo } from './dead-letter/dead-letter.js';
export { ROUTING_SLIP_HEADER, readRoutingSlip } from './participant/routing-slip.js';
export { partitionForKey } from './transport/murmur2.js';
export { KafkaTransport } from './transport/kafka/kafka-transport.js';
export type { KafkaTransportOptions } from './transport/kafka/kafka-transport.js';
export { shutdownGracefully } from './operations/shutdown.js';
export type { GracefulShutdownOptions } from './operations/shutdown.js';
export { listDeadLetters, replayDeadLetters } from './dead-letter/dead-letter-tool.js';
export type { DeadLetterEntry, DeadLetterFilter, ReplayOptions, ReplayResult } from './dead-letter/dead-letter-tool.js';
// Re-exported for tools that read a whole topic; it lives with the one Kafka reader.
export { readTopicToEnd } from '@troupe/kafka';
export { OperationsServer } from './operations/operations-server.js';
export type { OperationsServerOptions } from './operations/operations-server.js';
export type { RetryTopicOptions } from './retry/retry-topic.js';
export { VirtualClock, systemClock } from './timers/clock.js';
export type { Clock, DurationInput } from './timers/clock.js';
export type { ScheduleOptions } from './timers/scheduled-events.js';
export { timeoutEvent, readAbort, ABORT_HEADER } from './timers/abort.js';
export type { TimeoutEvent, TimeoutInfo, AbortCause } from './timers/abort.js';
export { requestAbort, controlTopicOf } from './timers/control.js';
export type { RequestAbortOptions, AbortReply } from './timers/control.js';
export type { TimerOptions } from './participant/participant-options.js';
export { buildDlqCli, runDlqCli } from './cli/dlq-program.js';
export { buildSagaCli, runSagaCli } from './cli/saga-program.js';
export { PostgresOutbox } from './postgres/postgres-outbox.js';
export type { PostgresOutboxOptions, TransactionClient, InboxKey, OutboxBacklog, OutboxRefusals } from './postgres/postgres-outbox.js';
export { OutboxRelay } from './postgres/outbox-relay.js';
export type { OutboxRelayOptions, RelayHealth } from './postgres/outbox-relay.js';
export type { MigrationReport } from './postgres/migrations.js';
export { buildOutboxCli, runOutboxCli } from './cli/outbox-program.js';
