/** Apicurio Registry release resolved from Maven Central (keep in step with registry/pom.xml). */
export const APICURIO_VERSION = '3.0.9';

/**
 * Apicurio 3.0.9 runs on Java 17, the platform's Java (Kafka 4 needs 17 too). 3.3 is compiled for
 * Java 21 (class file 65); see docs/adr/0002-apicurio-as-test-registry.md.
 */
export const APICURIO_MIN_JAVA_MAJOR = 17;

/**
 * The Quarkus runner in the unpacked distribution: 3.0.x ships `apicurio-registry-app-<version>-runner.jar`
 * beside `lib/` (no `quarkus-run.jar`, which 3.3 uses).
 */
export const APICURIO_RUN_JAR = `apicurio-registry-app-${APICURIO_VERSION}-runner.jar`;

/**
 * True for the command line (`/proc/<pid>/cmdline`) of an Apicurio JVM we start: this version's
 * runner jar, any other 3.0.x runner, or the `quarkus-run.jar` of registries started by Troupe
 * versions that pinned Apicurio 3.3.
 */
export function isApicurioCommandLine(cmdline: string): boolean {
  return /apicurio-registry-app-[^/\0]*-runner\.jar/.test(cmdline) || cmdline.includes('quarkus-run.jar');
}

/** Path of the Confluent-compatible API under the server root. */
export const CCOMPAT_PATH = '/apis/ccompat/v7';
