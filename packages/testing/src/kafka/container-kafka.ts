import { TestingError } from './errors.js';
import { freePort } from './ports.js';
import { KAFKA_VERSION } from './version.js';
import { warmUp } from './warm-up.js';
import { describeClusterVia } from './admin-probe.js';
import { waitFor } from './fixtures.js';

/** The official Apache image of the same version the JVM launcher runs. */
export const KAFKA_IMAGE = `apache/kafka:${KAFKA_VERSION}`;

/**
 * testcontainers' own check for a reachable Docker/Podman engine (socket, DOCKER_HOST,
 * ~/.testcontainers.properties). The `docker` CLI being installed proves nothing.
 */
export async function containerRuntimeAvailable(): Promise<boolean> {
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}

export interface ContainerKafka {
  readonly brokers: string[];
  stop(): Promise<void>;
}

/**
 * A single-node KRaft broker in the `apache/kafka` container. `@testcontainers/kafka`'s
 * `KafkaContainer` drives the Confluent image's start scripts, so the Apache image is configured
 * here through its documented `KAFKA_*` environment instead. The host port is fixed before start
 * because the advertised listener must name it.
 */
export async function startContainerKafka(options: { image?: string; onProgress?: (m: string) => void } = {}): Promise<ContainerKafka> {
  const { GenericContainer, Wait } = await import('testcontainers');
  const hostPort = await freePort();
  const image = options.image ?? KAFKA_IMAGE;
  options.onProgress?.(`starting ${image} with testcontainers on 127.0.0.1:${hostPort}`);
  let container;
  try {
    container = await new GenericContainer(image)
      .withExposedPorts({ container: 9092, host: hostPort })
      .withEnvironment({
        KAFKA_NODE_ID: '1',
        KAFKA_PROCESS_ROLES: 'broker,controller',
        KAFKA_LISTENERS: 'PLAINTEXT://:9092,CONTROLLER://:9093',
        KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://127.0.0.1:${hostPort}`,
        KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
        KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
        KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:9093',
        KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
        KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
        KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
        KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
      })
      .withWaitStrategy(Wait.forLogMessage(/Kafka Server started/))
      .withStartupTimeout(120_000)
      .start();
  } catch (cause) {
    throw new TestingError('BROKER_FAILED', `The ${image} container did not start: ${(cause as Error).message}`, { cause });
  }
  const brokers = [`127.0.0.1:${hostPort}`];
  try {
    await waitFor(async () => (await describeClusterVia(brokers[0] as string)) !== undefined, {
      timeoutMs: 60_000,
      description: `the ${image} container to answer describeCluster`,
    });
    await warmUp(brokers, 1);
  } catch (error) {
    await container.stop();
    throw error;
  }
  return {
    brokers,
    stop: async () => {
      await container.stop();
    },
  };
}
