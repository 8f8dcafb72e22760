/** The Apache Kafka broker version the launcher runs; must match `kafka/pom.xml` (see docs/adr/0001). */
export const KAFKA_VERSION = '4.1.2';

/** Oldest Java that runs Kafka 4.x brokers. */
export const MIN_JAVA_MAJOR = 17;
