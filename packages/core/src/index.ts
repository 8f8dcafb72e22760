export { TroupeError } from './troupe-error.js';
export {
  HEADER,
  DLQ_HEADER,
  REPLAY_HEADER,
  ABORT_HEADER,
  ABORT_CAUSES,
  readAbort,
  MARKER_HEADER,
  SAGA_ROLES,
  AVRO_CONTENT_TYPE,
  EnvelopeError,
  toHeaders,
  parseEnvelope,
  headerString,
} from './envelope.js';
export type { EventEnvelope, SagaRole, KafkaHeaders, AbortCause, AbortHeaders } from './envelope.js';
export type { SagaContract, SagaStepContract, SagaStage, SagaAttribute, TimeoutAction } from './saga-contract.js';
export {
  TIMEOUT_ACTIONS,
  actsOnTime,
  contractVersion,
  contractFor,
  latestContract,
  contractStages,
  stageIndexOf,
  continuingOutcomes,
  stepAwaits,
  compensationTriggersOf,
} from './saga-contract.js';
export { DURATION_PATTERN, parseDuration, formatDuration } from './duration.js';
export {
  DEAD_LETTER_SUFFIX,
  RETRY_SUFFIX,
  deadLetterTopicOf,
  isDeadLetterTopic,
  sourceTopicOf,
  retryTopicOf,
  inboxTopicOf,
  INBOX_SUFFIX,
  TIMERS_SUFFIX,
  timerTopicOf,
  controlTopicOf,
  transactionalIdPrefixOf,
  READER_GROUP_PREFIX,
  TRACKER_GROUP,
} from './topics.js';
export { OptionChecks } from './option-checks.js';
export { withRetries } from './with-retries.js';
export type { RetryLoop, Attempted } from './with-retries.js';
export {
  KAFKA_CONNECTION_OPTIONS,
  REGISTRY_CONNECTION_OPTIONS,
  SASL_MECHANISMS,
  ConnectionOptionsError,
  connectionValuesFromEnv,
  connectionValuesToEnv,
  describeKafkaConnection,
  kafkaConnectionFrom,
  registryConnectionFrom,
} from './kafka-connection.js';
export type {
  ConnectionOptionSpec,
  KafkaConnection,
  KafkaConnectionKey,
  KafkaSasl,
  RegistryConnection,
  RegistryConnectionKey,
  SaslMechanism,
} from './kafka-connection.js';
