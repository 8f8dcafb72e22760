// Public surface of @troupe/testing: named exports only.
export { TestingError, type TestingErrorCode } from './kafka/errors.js';
export { KAFKA_VERSION, MIN_JAVA_MAJOR } from './kafka/version.js';
export { LocalKafka, type LocalKafkaOptions, type LocalKafkaCommonOptions } from './kafka/local-kafka.js';
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
