/** Apicurio Registry release resolved from Maven Central (keep in step with registry/pom.xml). */
export const APICURIO_VERSION = '3.3.3';

/** Apicurio 3.3 is compiled for Java 21 (class file 65); Kafka's Java 17 is not enough for it. */
export const APICURIO_MIN_JAVA_MAJOR = 21;

/** Path of the Confluent-compatible API under the server root. */
export const CCOMPAT_PATH = '/apis/ccompat/v7';
