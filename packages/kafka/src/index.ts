export { KafkaError, describeKafkaError } from './errors.js';
export type { KafkaErrorCode } from './errors.js';
export { createKafkaClient, connectAdmin, checkBrokers, pinoLogBridge } from './client.js';
export type { KafkaClientOptions } from './client.js';
export { KafkaReader, heartbeatIntervalFor } from './reader.js';
export type { ReaderOptions, ReaderBatch, TopicPartition } from './reader.js';
export { toKafkaRecord, nextOffset } from './records.js';
export type { KafkaRecord } from './records.js';
export { readTopicToEnd } from './topic-reader.js';
