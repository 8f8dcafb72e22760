import { containerRuntimeAvailable, startContainerKafka } from './container-kafka.js';
import { checkJava, defaultJavaPath } from './java.js';
import { LocalKafka, type LocalKafkaOptions } from './local-kafka.js';
import { selectKafkaBackend, type KafkaBackend, type SelectionProbes } from './selection.js';

/** A broker for a test run, whichever way it was obtained. */
export interface TestKafka {
  readonly kind: KafkaBackend['kind'];
  readonly brokers: readonly string[];
  /** Stops what this call started; a no-op for an external cluster. */
  stop(): Promise<void>;
}

export interface StartTestKafkaOptions {
  /** @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  /** Options for the local JVM launcher. @default {} */
  readonly local?: LocalKafkaOptions;
  /** @default real Java and container runtime checks */
  readonly probes?: SelectionProbes;
  /** @default none */
  readonly onProgress?: (message: string) => void;
}

export const defaultProbes: SelectionProbes = {
  checkJava: () => checkJava(defaultJavaPath()),
  containerRuntimeAvailable,
};

/**
 * Gets a broker as `TROUPE_KAFKA` / `KAFKA_BROKERS` select (see selection.ts): an existing
 * cluster, the local JVM launcher, or a testcontainers container.
 */
export async function startTestKafka(options: StartTestKafkaOptions = {}): Promise<TestKafka> {
  const backend = await selectKafkaBackend(options.env ?? process.env, options.probes ?? defaultProbes);
  switch (backend.kind) {
    case 'external':
      options.onProgress?.(`using the existing cluster KAFKA_BROKERS=${backend.brokers.join(',')}`);
      return { kind: 'external', brokers: backend.brokers, stop: () => Promise.resolve() };
    case 'local': {
      const kafka = await LocalKafka.start({ onProgress: options.onProgress, ...options.local });
      return { kind: 'local', brokers: kafka.brokers, stop: () => kafka.stop() };
    }
    case 'testcontainers': {
      const kafka = await startContainerKafka({ onProgress: options.onProgress });
      return { kind: 'testcontainers', brokers: kafka.brokers, stop: () => kafka.stop() };
    }
  }
}
