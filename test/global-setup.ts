// Global setup of the `integration` project: one real Kafka broker for the whole run.
// Which broker: KAFKA_BROKERS (existing cluster) > local JVM launcher > testcontainers; see
// packages/testing/src/kafka/selection.ts. Workers inherit process.env, so tests read the brokers
// with `kafkaBrokers()` from @troupe/testing; `inject('kafkaBrokers')` works too.
import type { TestProject } from 'vitest/node';
import { LocalSchemaRegistry, startTestKafka } from '@troupe/testing';

declare module 'vitest' {
  export interface ProvidedContext {
    kafkaBrokers: string;
    schemaRegistryUrl: string;
  }
}

type Teardown = () => Promise<void>;

const log = (message: string): void => {
  process.stderr.write(`[global-setup] ${message}\n`);
};

async function startKafka(project: TestProject): Promise<Teardown> {
  const kafka = await startTestKafka({ onProgress: log });
  const brokers = kafka.brokers.join(',');
  process.env['KAFKA_BROKERS'] = brokers;
  // Troupe passes the Java-compatible murmur2 partitioner explicitly; the warning is noise.
  process.env['KAFKAJS_NO_PARTITIONER_WARNING'] = '1';
  project.provide('kafkaBrokers', brokers);
  log(`KAFKA_BROKERS=${brokers} (${kafka.kind})`);
  return () => kafka.stop();
}

// A real Confluent-compatible registry (Apicurio, in-memory storage) unless SCHEMA_REGISTRY_URL
// names one; tests read it from process.env['SCHEMA_REGISTRY_URL'] or inject('schemaRegistryUrl').
async function startSchemaRegistry(project: TestProject): Promise<Teardown> {
  const given = process.env['SCHEMA_REGISTRY_URL'];
  if (given) {
    const res = await fetch(`${given.replace(/\/+$/, '')}/subjects`).catch((error: unknown) => error as Error);
    if (res instanceof Error || !res.ok) {
      throw new Error(
        `SCHEMA_REGISTRY_URL=${given} does not answer GET /subjects (${res instanceof Error ? res.message : `HTTP ${res.status}`}); start it or unset the variable to get a local one.`,
      );
    }
    project.provide('schemaRegistryUrl', given);
    log(`SCHEMA_REGISTRY_URL=${given} (given)`);
    return () => Promise.resolve();
  }
  const registry = await LocalSchemaRegistry.start({ onProgress: log });
  process.env['SCHEMA_REGISTRY_URL'] = registry.url;
  project.provide('schemaRegistryUrl', registry.url);
  log(`SCHEMA_REGISTRY_URL=${registry.url} (Apicurio, up in ${registry.startupMs} ms)`);
  return () => registry.stop();
}

// Services that need Kafka (e.g. the schema registry) start after it, each returning its teardown.
const services: ((project: TestProject) => Promise<Teardown>)[] = [startKafka, startSchemaRegistry];

export default async function setup(project: TestProject): Promise<Teardown> {
  const teardowns: Teardown[] = [];
  const teardown: Teardown = async () => {
    // Reverse order: dependants stop before what they depend on.
    for (const stop of teardowns.reverse()) {
      await stop().catch((error: unknown) => log(`teardown failed: ${String(error)}`));
    }
  };
  try {
    for (const start of services) teardowns.push(await start(project));
  } catch (error) {
    await teardown();
    throw error;
  }
  return teardown;
}
