// Public surface of @troupe/testing: named exports only.
export { TestingError, type TestingErrorCode } from './kafka/errors.js';
export { KAFKA_VERSION, MIN_JAVA_MAJOR } from './kafka/version.js';
export { LocalKafka, type LocalKafkaOptions, type LocalKafkaCommonOptions, type LocalKafkaConnection } from './kafka/local-kafka.js';
export type { KafkaClientSecurity, SecuredKafkaOptions } from './kafka/security.js';
export { kafkaBrokers, parseBrokerList } from './kafka/brokers.js';
export {
  createTopics,
  testKafka,
  uniqueGroup,
  uniqueName,
  uniqueTopic,
  waitFor,
  waitForValue,
  type TopicSpec,
  type WaitOptions,
} from './kafka/fixtures.js';
export { ensureKafkaJars, type EnsureKafkaJarsOptions, type KafkaJars } from './kafka/jars.js';
export { selectKafkaBackend, parseKafkaMode, type KafkaBackend, type KafkaMode, type SelectionProbes } from './kafka/selection.js';
export { startTestKafka, type StartTestKafkaOptions, type TestKafka } from './kafka/test-kafka.js';
export { KAFKA_IMAGE, containerRuntimeAvailable } from './kafka/container-kafka.js';
export { LocalKafkaCluster, type LocalKafkaClusterOptions } from './kafka/local-kafka-cluster.js';
export type { KafkaNodeInfo } from './kafka/kafka-nodes.js';
export { SagaHarness, type SagaHarnessOptions, type RecordedEvent } from './harness/saga-harness.js';
export { LocalSchemaRegistry, type LocalSchemaRegistryOptions, type RegistryCompatibility } from './registry/local-registry.js';
export { ensureApicurio, type ApicurioDist, type EnsureApicurioOptions } from './registry/apicurio-dist.js';
export { findRegistryJava } from './registry/registry-java.js';
export { APICURIO_VERSION, APICURIO_MIN_JAVA_MAJOR, CCOMPAT_PATH } from './registry/apicurio-version.js';
export {
  defaultRegistryStateDir,
  registryStatus,
  startBackgroundRegistry,
  stopBackgroundRegistry,
  type BackgroundRegistryState,
} from './registry/background-registry.js';
export { cleanupStaleKafkaRuns, isAlive } from './kafka/run-state.js';
export { freePort } from './kafka/ports.js';
export { buildKafkaCli } from './cli/kafka-cli.js';
export { buildRegistryCli } from './cli/registry-cli.js';
export { testStep, type TestStepOptions, type TestCompensationOptions, type StepTestResult, type EmittedEvent } from './step/test-step.js';
