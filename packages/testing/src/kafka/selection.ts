import { parseBrokerList } from './brokers.js';
import { TestingError } from './errors.js';

/**
 * How tests get a broker, from `TROUPE_KAFKA`:
 * - `auto` (default): `KAFKA_BROKERS` if set; else the local JVM launcher if Java 17+ is there;
 *   else testcontainers if a container runtime answers; else an error naming both problems.
 * - `local`: always the local JVM launcher.
 * - `testcontainers`: always a container (fails if no container runtime is reachable).
 * `KAFKA_BROKERS` always means "use this existing cluster"; combining it with `local` or
 * `testcontainers` is a contradiction and fails.
 */
export type KafkaMode = 'auto' | 'local' | 'testcontainers';

export const KAFKA_MODES: readonly KafkaMode[] = ['auto', 'local', 'testcontainers'];

export type KafkaBackend =
  { readonly kind: 'external'; readonly brokers: readonly string[] } | { readonly kind: 'local' } | { readonly kind: 'testcontainers' };

/** Environment checks, injectable so the decision is unit-testable without Java or Docker. */
export interface SelectionProbes {
  /** Resolves when Java 17+ runs; rejects with the reason otherwise. */
  readonly checkJava: () => Promise<unknown>;
  /** True when testcontainers can reach a container runtime (its own check, not `docker --version`). */
  readonly containerRuntimeAvailable: () => Promise<boolean>;
}

export function parseKafkaMode(value: string | undefined): KafkaMode {
  const mode = (value ?? '').trim() || 'auto';
  if ((KAFKA_MODES as readonly string[]).includes(mode)) return mode as KafkaMode;
  throw new TestingError('INVALID_OPTIONS', `TROUPE_KAFKA=${value ?? ''} is not one of ${KAFKA_MODES.join(', ')}. Unset it for auto.`);
}

export async function selectKafkaBackend(env: NodeJS.ProcessEnv, probes: SelectionProbes): Promise<KafkaBackend> {
  const mode = parseKafkaMode(env['TROUPE_KAFKA']);
  const external = env['KAFKA_BROKERS'];
  if (external !== undefined && external.trim() !== '') {
    if (mode !== 'auto') {
      throw new TestingError(
        'INVALID_OPTIONS',
        `KAFKA_BROKERS=${external} and TROUPE_KAFKA=${mode} contradict each other: unset KAFKA_BROKERS to start a ${mode} broker, or unset TROUPE_KAFKA to use ${external}.`,
      );
    }
    return { kind: 'external', brokers: parseBrokerList(external) };
  }
  switch (mode) {
    case 'local':
      return { kind: 'local' };
    case 'testcontainers':
      if (!(await probes.containerRuntimeAvailable())) {
        throw new TestingError(
          'CONTAINER_RUNTIME_UNAVAILABLE',
          'TROUPE_KAFKA=testcontainers but testcontainers found no reachable container runtime (Docker/Podman socket, DOCKER_HOST). ' +
            'Start one, or unset TROUPE_KAFKA to use the local JVM broker.',
        );
      }
      return { kind: 'testcontainers' };
    case 'auto': {
      let javaProblem: unknown;
      try {
        await probes.checkJava();
        return { kind: 'local' };
      } catch (error) {
        javaProblem = error;
      }
      if (await probes.containerRuntimeAvailable()) return { kind: 'testcontainers' };
      const why = javaProblem instanceof Error ? javaProblem.message : String(javaProblem);
      throw new TestingError(
        javaProblem instanceof TestingError ? javaProblem.code : 'JAVA_NOT_FOUND',
        `No way to get a Kafka broker: the local launcher needs Java (${why}) and no container runtime is reachable for testcontainers. ` +
          'Install Java 17+, start Docker, or set KAFKA_BROKERS=host:port to use an existing cluster.',
        { cause: javaProblem },
      );
    }
  }
}
