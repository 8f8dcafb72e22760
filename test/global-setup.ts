// Global setup of the `integration` project: one real Kafka broker for the whole run.
// Which broker: KAFKA_BROKERS (existing cluster) > local JVM launcher > testcontainers; see
// packages/testing/src/kafka/selection.ts. Workers inherit process.env, so tests read the brokers
// with `kafkaBrokers()` from @troupe/testing; `inject('kafkaBrokers')` works too.
import type { TestProject } from 'vitest/node';
import { startTestKafka } from '@troupe/testing';

declare module 'vitest' {
  export interface ProvidedContext {
    kafkaBrokers: string;
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

// Services that need Kafka (e.g. the schema registry) start after it, each returning its teardown.
const services: ((project: TestProject) => Promise<Teardown>)[] = [startKafka];

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
