import { fileURLToPath } from 'node:url';
import { connectionValuesToEnv, KAFKA_CONNECTION_OPTIONS, REGISTRY_CONNECTION_OPTIONS } from '@troupe/core';
import { LocalKafka, LocalSchemaRegistry, freePort, waitFor } from '@troupe/testing';
import { driveOrders, type Summary } from './driver.js';
import { postOrder } from './services/order-api.js';
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
    const urls =
      demo.trackerUrl !== undefined && demo.ordersUrl !== undefined
        ? { tracker: demo.trackerUrl, orders: demo.ordersUrl }
        : await startProcesses({ demo, brokers, registryUrl, runId, cleanup });
    const trackerUrl = urls.tracker;
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

    say(`orders: POST ${urls.orders}/orders (the order service stores each order and starts its saga in one transaction)`);
    const countOrders = async (prefix: string): Promise<number> => {
      const res = await fetch(`${urls.orders}/orders/count?prefix=${encodeURIComponent(prefix)}`);
      return ((await res.json()) as { orders: number }).orders;
    };
    return await driveOrders({
      demo,
      place: (order) => postOrder(urls.orders, order, signal, say),
      countOrders,
      trackerUrl,
      signal,
      sagaIdPrefix: `order-${runId}-`,
    });
  } finally {
    for (const fn of cleanup.reverse()) await fn().catch((err: unknown) => say(`cleanup: ${String(err)}`));
  }
}

/** Starts the four services and the tracker as supervised child processes; returns the tracker's and the order API's URLs. */
async function startProcesses(args: {
  demo: DemoOptions;
  brokers: string;
  registryUrl: string;
  runId: string;
  cleanup: (() => Promise<void>)[];
}): Promise<{ readonly tracker: string; readonly orders: string }> {
  const { demo, brokers, registryUrl, runId, cleanup } = args;
  const port = demo.port === 0 ? await freePort() : demo.port;
  const ordersPort = await freePort();
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
    ORDER_API_PORT: String(ordersPort),
  };
  for (const name of SERVICE_NAMES) supervisor.start({ name, command: process.execPath, args: [SERVICE_BIN, name], env });
  supervisor.start({
    name: 'saga-tracker',
    command: process.execPath,
    args: [TRACKER_BIN, '--schemas', SCHEMAS_DIR, '--port', String(port), '--log-level', 'warn'],
    env,
  });
  return { tracker: `http://127.0.0.1:${port}`, orders: `http://127.0.0.1:${ordersPort}` };
}
