import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  connectionValuesToEnv,
  kafkaConnectionFrom,
  KAFKA_CONNECTION_OPTIONS,
  registryConnectionFrom,
  REGISTRY_CONNECTION_OPTIONS,
} from '@troupe/core';
import { createSchemaRegistry } from '@troupe/schema-registry';
import { KafkaTransport, Publisher } from '@troupe/sdk';
import { LocalKafka, LocalSchemaRegistry, freePort, waitFor } from '@troupe/testing';
import { driveOrders, type Summary } from './driver.js';
import { contracts } from './generated/events.js';
import type { DemoOptions } from './options.js';
import { SERVICE_NAMES } from './services/index.js';
import { Supervisor } from './supervisor.js';

const say = (line: string): void => void process.stderr.write(`${line}\n`);
const SERVICE_BIN = fileURLToPath(new URL('./bin/service.js', import.meta.url));
const TRACKER_BIN = fileURLToPath(new URL('../../../packages/saga-tracker/dist/cli/troupe-tracker.js', import.meta.url));
const SCHEMAS_DIR = fileURLToPath(new URL('../../../schemas', import.meta.url));

/**
 * Kafka mode: each service and the tracker run as separate processes on Apache Kafka, under a
 * supervisor that restarts any that dies. Uses `KAFKA_BROKERS` and `SCHEMA_REGISTRY_URL` when set,
 * otherwise starts a local broker and registry (Java, no Docker). Services keep their side effects
 * in PostgreSQL (`DATABASE_URL`, default postgres://postgres@127.0.0.1:5432/test).
 */
export async function runOnKafka(demo: DemoOptions, signal: AbortSignal): Promise<Summary | undefined> {
  const cleanup: (() => Promise<void>)[] = [];
  try {
    const given = demo.connection;
    let brokers = typeof given.brokers === 'string' ? given.brokers : undefined;
    if (brokers === undefined || brokers === '') {
      say('starting a local Kafka broker (first run downloads it with Maven)…');
      const kafka = await LocalKafka.start({ onProgress: (m: string) => say(`  ${m}`) });
      cleanup.push(() => kafka.stop());
      brokers = kafka.brokers.join(',');
    }
    let registryUrl = typeof given.registry === 'string' ? given.registry : undefined;
    if (registryUrl === undefined || registryUrl === '') {
      say('starting a local schema registry (Apicurio; first run downloads it with Maven)…');
      const registry = await LocalSchemaRegistry.start();
      cleanup.push(() => registry.stop());
      registryUrl = registry.url;
    }
    const runId = Date.now().toString(36);
    say(`KAFKA_BROKERS=${brokers} SCHEMA_REGISTRY_URL=${registryUrl}`);
    const trackerUrl = demo.trackerUrl ?? (await startProcesses({ demo, brokers, registryUrl, runId, cleanup }));
    // Polls through connection errors until the tracker listens; an interrupt ends the wait.
    await waitFor(async () => signal.aborted || (await fetch(`${trackerUrl}/health`)).status < 500, {
      description: `the tracker at ${trackerUrl} (see the supervisor's output above)`,
      timeoutMs: 120_000,
      intervalMs: 250,
    });
    if (signal.aborted) throw new Error('interrupted');
    const where =
      demo.trackerUrl === undefined ? `${SERVICE_NAMES.length} service processes + tracker` : 'services and tracker run elsewhere';
    say(`tracker: ${trackerUrl}/  (Kafka mode: ${where})`);

    const values = { ...given, brokers, registry: registryUrl };
    const transport = await KafkaTransport.create({
      ...kafkaConnectionFrom(values, (f) => readFileSync(f, 'utf8')),
      clientId: 'order-service-shop',
    });
    cleanup.push(() => transport.close());
    const registry = registryConnectionFrom(values);
    const codec = await createSchemaRegistry({ url: registryUrl, ...(registry?.auth ? { confluent: { auth: registry.auth } } : {}) });
    const publisher = await Publisher.create({
      transport,
      codec,
      source: 'order-service',
      contracts: [contracts['order-fulfillment']],
      topics: { partitions: demo.partitions },
    });
    return await driveOrders({ demo, publisher, trackerUrl, signal, sagaIdPrefix: `order-${runId}-` });
  } finally {
    for (const fn of cleanup.reverse()) await fn().catch((err: unknown) => say(`cleanup: ${String(err)}`));
  }
}

/** Starts the four services and the tracker as supervised child processes; returns the tracker URL. */
async function startProcesses(args: {
  demo: DemoOptions;
  brokers: string;
  registryUrl: string;
  runId: string;
  cleanup: (() => Promise<void>)[];
}): Promise<string> {
  const { demo, brokers, registryUrl, runId, cleanup } = args;
  const port = demo.port === 0 ? await freePort() : demo.port;
  const supervisor = new Supervisor(say, demo.supervise);
  cleanup.push(() => supervisor.stop());
  const env = {
    ...process.env,
    // SASL/TLS and registry credentials reach the services and the tracker as variables, not argv.
    ...connectionValuesToEnv([...KAFKA_CONNECTION_OPTIONS, ...REGISTRY_CONNECTION_OPTIONS], demo.connection),
    KAFKA_BROKERS: brokers,
    SCHEMA_REGISTRY_URL: registryUrl,
    DATABASE_URL: process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test',
    // Each run gets its own tables for the services' side effects and order books.
    DEMO_TABLE_PREFIX: `orders_demo_${runId}`,
    DEMO_PARTITIONS: String(demo.partitions),
  };
  for (const name of SERVICE_NAMES) supervisor.start({ name, command: process.execPath, args: [SERVICE_BIN, name], env });
  supervisor.start({
    name: 'saga-tracker',
    command: process.execPath,
    args: [TRACKER_BIN, '--schemas', SCHEMAS_DIR, '--port', String(port), '--log-level', 'warn'],
    env,
  });
  return `http://127.0.0.1:${port}`;
}
