#!/usr/bin/env node
/**
 * Runs one example service as its own process on Kafka:
 *   KAFKA_BROKERS=... SCHEMA_REGISTRY_URL=... DATABASE_URL=... node dist/bin/service.js payment-service
 * Side-effect results and the local order book live in PostgreSQL, so a restarted process carries on
 * where the killed one stopped.
 */
import { readFileSync } from 'node:fs';
import {
  connectionValuesFromEnv,
  describeKafkaConnection,
  kafkaConnectionFrom,
  KAFKA_CONNECTION_OPTIONS,
  registryConnectionFrom,
  REGISTRY_CONNECTION_OPTIONS,
} from '@troupe/core';
import { createSchemaRegistry } from '@troupe/schema-registry';
import {
  KafkaTransport,
  OperationsServer,
  OutboxRelay,
  PostgresIdempotencyStore,
  PostgresOutbox,
  Publisher,
  shutdownGracefully,
} from '@troupe/sdk';
import { pino } from 'pino';
import { contracts } from '../generated/events.js';
import { SERVICE_NAMES, startService, type ServiceName } from '../services/index.js';
import { startOrderApi, type OrderApi } from '../services/order-api.js';
import { OrderDesk } from '../services/order-desk.js';
import { startTracing } from '../tracing.js';

const name = process.argv[2] as ServiceName | undefined;
const usage =
  `usage: service.js <${SERVICE_NAMES.join('|')}> (env: KAFKA_BROKERS, SCHEMA_REGISTRY_URL, DATABASE_URL; ` +
  `secured: ${[...KAFKA_CONNECTION_OPTIONS, ...REGISTRY_CONNECTION_OPTIONS]
    .map((s) => s.env)
    .filter((e) => e !== 'KAFKA_BROKERS' && e !== 'SCHEMA_REGISTRY_URL')
    .join(', ')})`;
if (name === undefined || !SERVICE_NAMES.includes(name)) {
  process.stderr.write(`${usage}\n`);
  process.exit(2);
}
const env = (key: string): string => {
  const v = process.env[key];
  if (v === undefined || v === '') {
    process.stderr.write(`${key} is not set. ${usage}\n`);
    process.exit(2);
  }
  return v;
};

// Before any span is made: spans go to OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set.
const tracing = startTracing(name);
const logger = pino({ name, level: process.env['LOG_LEVEL'] ?? 'warn' }, pino.destination(2));
env('KAFKA_BROKERS');
const kafka = kafkaConnectionFrom(connectionValuesFromEnv(KAFKA_CONNECTION_OPTIONS, process.env), (file) => readFileSync(file, 'utf8'));
logger.info({ kafka: describeKafkaConnection(kafka) }, 'connecting');
// KAFKA_SESSION_TIMEOUT_MS: how soon the group gives a dead instance's partitions to the others
// (fault tests shorten it so a SIGKILLed service is replaced within seconds).
const sessionTimeout = process.env['KAFKA_SESSION_TIMEOUT_MS'];
const transport = await KafkaTransport.create({
  ...kafka,
  clientId: name,
  ...(sessionTimeout !== undefined && sessionTimeout !== '' ? { sessionTimeoutMs: Number(sessionTimeout) } : {}),
});
const registry = registryConnectionFrom(connectionValuesFromEnv(REGISTRY_CONNECTION_OPTIONS, process.env));
// A service (re)started while the registry restarts waits for it (SCHEMA_REGISTRY_WAIT_MS, default
// 60 s) instead of exiting: a supervisor would otherwise restart it in a loop until the registry is back.
const codec = await createSchemaRegistry({
  url: env('SCHEMA_REGISTRY_URL'),
  confluent: {
    ...(registry?.auth ? { auth: registry.auth } : {}),
    waitMs: Number(process.env['SCHEMA_REGISTRY_WAIT_MS'] ?? '60000'),
    onWait: (err, attempt) => logger.warn({ attempt, err: err.message }, 'waiting for the schema registry'),
  },
});
const prefix = process.env['DEMO_TABLE_PREFIX'] ?? 'orders_demo';
const partitions = Number(process.env['DEMO_PARTITIONS'] ?? '3');
const store = await PostgresIdempotencyStore.create({
  connectionString: env('DATABASE_URL'),
  table: `${prefix}_${name.replace(/-/g, '_')}`,
});
// The order service writes its own database: an order and its OrderPlaced (an outbox row) commit
// together (docs/outbox.md). Its handlers run in Kafka transactions like the other services': it
// keeps the saga's clock (shipping's onTimeout: abort), whose timer records must commit in the
// Kafka transaction of the saga's partition (docs/time.md).
const outbox =
  name === 'order-service' ? await PostgresOutbox.create({ connectionString: env('DATABASE_URL'), schema: `${prefix}_outbox` }) : undefined;
const participant = await startService(name, { transport, codec, store, logger, partitions });
let api: OrderApi | undefined;
let relay: OutboxRelay | undefined;
if (outbox !== undefined) {
  // Publishes the outbox's OrderPlaced rows after their commit (a participant with an outbox would run it).
  relay = await OutboxRelay.create({ outbox, transport, logger });
  const publisher = await Publisher.create({
    transport,
    codec,
    source: 'order-service',
    contracts: [contracts['order-fulfillment']],
    topics: { partitions },
    outbox,
  });
  const desk = await OrderDesk.create({ outbox, publisher, table: `${prefix}_orders` });
  api = await startOrderApi(desk, Number(process.env['ORDER_API_PORT'] ?? '8081'));
}
// Health and metrics for orchestrators (docker compose, Kubernetes) when a port is given.
const opsPort = process.env['HEALTH_PORT'];
const ops =
  opsPort === undefined
    ? undefined
    : await OperationsServer.create({ participants: [participant], port: Number(opsPort), host: '0.0.0.0' });
shutdownGracefully(
  [
    ...(api !== undefined ? [api] : []),
    ...(ops !== undefined ? [ops] : []),
    participant,
    ...(relay !== undefined ? [relay] : []),
    transport,
    store,
    ...(outbox !== undefined ? [outbox] : []),
    ...(tracing !== undefined ? [tracing] : []),
  ],
  {
    logger,
  },
);
process.stderr.write(`${name} ready (pid ${process.pid})\n`);
