import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AclOperationTypes, AclPermissionTypes, AclResourceTypes, Kafka, ResourcePatternTypes, logLevel, type Admin } from 'kafkajs';
import { pino } from 'pino';
import { parseEnvelope } from '@troupe/core';
import { MemorySchemaRegistry, runSchemasCli, type AclEntry, type ServiceAcls } from '@troupe/schema-registry';
import { KafkaTransport, MemoryIdempotencyStore, Publisher, SdkError, requestAbort, type Participant } from '@troupe/sdk';
import { SagaTracker } from '@troupe/saga-tracker';
import { LocalKafka, freePort, waitForValue } from '@troupe/testing';
import { contracts, OrderPlaced } from '../examples/order-fulfillment/src/generated/events.js';
import { SERVICE_NAMES, startService } from '../examples/order-fulfillment/src/services/index.js';
import { orderFor, type Scenario } from '../examples/order-fulfillment/src/world.js';

const silent = pino({ level: 'silent' });
const root = fileURLToPath(new URL('..', import.meta.url));

/** Runs a Troupe CLI from source; resolves its exit code and output once it exits. */
function runCli(
  script: string,
  args: readonly string[],
  env: Record<string, string>,
): { output: () => string; stop: () => void; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd: root,
    env: { ...process.env, SCHEMA_REGISTRY_URL: '', ...env },
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  return { output: () => output, stop: () => child.kill('SIGTERM'), exited: new Promise((resolve) => child.once('exit', resolve)) };
}
const SCENARIOS: readonly Scenario[] = ['happy', 'happy', 'happy', 'card-expired', 'sold-out', 'undeliverable'];
const END_EVENTS = new Set(['com.acme.orders.OrderCompleted', 'com.acme.orders.OrderCancelled']);

const toKafkajsAcl = (e: AclEntry) => ({
  resourceType: AclResourceTypes[e.resourceType],
  resourceName: e.resourceName,
  resourcePatternType: ResourcePatternTypes[e.patternType],
  principal: e.principal,
  host: e.host,
  operation: AclOperationTypes[e.operation],
  permissionType: AclPermissionTypes[e.permission],
});

/** Asserts the promise fails with a typed SdkError of `code`. */
async function refusedWith(promise: Promise<unknown>, code: SdkError['code']): Promise<SdkError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SdkError);
  expect((error as SdkError).code).toBe(code);
  return error as SdkError;
}

// The example's four services, a publisher and the tracker on a secured broker, each with only the
// ACLs `troupe-schemas acl` prints for it.
describe('least privilege from the contracts on a secured broker', () => {
  const users = Object.fromEntries(
    [...SERVICE_NAMES, 'publisher', 'troupe-tracker', 'troupe-operator', 'stranger'].map((u) => [u, `${u}-pw`]),
  );
  let kafka: LocalKafka;
  let admin: Admin;
  let plans: ServiceAcls[];
  const transports: KafkaTransport[] = [];
  const services: Participant[] = [];
  let tracker: SagaTracker | undefined;
  const codec = new MemorySchemaRegistry();
  const run = `lp-${Date.now().toString(36)}`;
  const sagaIds = SCENARIOS.map((_, i) => `${run}-${i}`);

  const transportAs = async (user: string): Promise<KafkaTransport> => {
    const t = await KafkaTransport.create({ ...kafka.connection(user), clientId: user, logger: silent });
    transports.push(t);
    return t;
  };

  beforeAll(async () => {
    kafka = await LocalKafka.start({ secured: { users } });
    admin = new Kafka({ clientId: 'lp-admin', logLevel: logLevel.NOTHING, ...kafka.connection() }).admin();
    await admin.connect();

    const out: string[] = [];
    const code = await runSchemasCli(['--schemas', 'schemas', 'acl', '--format', 'json'], {
      out: (l) => out.push(l),
      err: (l) => out.push(l),
    });
    expect(code).toBe(0);
    plans = JSON.parse(out.join('\n')) as ServiceAcls[];
    await admin.createAcls({ acl: plans.flatMap((p) => p.acls.map(toKafkajsAcl)) });
  });

  afterAll(async () => {
    await Promise.all(services.map((s) => s.close()));
    await tracker?.close();
    await Promise.all(transports.map((t) => t.close()));
    await admin?.disconnect();
    await kafka?.stop();
  });

  it('plans ACLs for the four services, the publisher, the operator and the tracker', () => {
    expect(plans.map((p) => `${p.service}:${p.role}`)).toEqual([
      'inventory-service:participant',
      'order-service:participant',
      'payment-service:participant',
      'shipping-service:participant',
      'publisher:publisher',
      'troupe-operator:operator',
      'troupe-tracker:tracker',
    ]);
    // The order service keeps the saga's clock (shipping: onTimeout abort): its timer and control topics.
    const order = plans.find((p) => p.service === 'order-service');
    expect(order?.reads).toEqual(expect.arrayContaining(['order-fulfillment.control', 'order-service.timers', 'orders']));
    expect(order?.writes).toEqual(expect.arrayContaining(['order-fulfillment.control', 'order-service.timers']));
    expect(plans.find((p) => p.service === 'troupe-operator')?.writes).toEqual(['order-fulfillment.control']);
    const payment = plans.find((p) => p.service === 'payment-service');
    expect(payment?.writes).toEqual(['inventory.dlq', 'orders.dlq', 'payments', 'shipping.dlq']);
    expect(payment?.acls).toContainEqual(
      expect.objectContaining({
        resourceType: 'TRANSACTIONAL_ID',
        resourceName: 'troupe-payment-service-',
        patternType: 'PREFIXED',
        operation: 'WRITE',
      }),
    );
  });

  it('each service works with only its ACLs: every saga ends exactly once', async () => {
    // ACLs reach the authorizer through the metadata log: wait until the publisher may create its topic.
    const publisherTransport = await transportAs('publisher');
    await waitForValue(async () => publisherTransport.ensureTopics([{ topic: 'orders', partitions: 2, replicationFactor: 1 }]), {
      description: 'the ACLs to apply',
      timeoutMs: 30_000,
      intervalMs: 200,
    });
    for (const name of SERVICE_NAMES) {
      services.push(
        await startService(name, {
          transport: await transportAs(name),
          codec,
          store: new MemoryIdempotencyStore(),
          logger: silent,
          partitions: 2,
        }),
      );
    }
    tracker = await SagaTracker.create({
      brokers: kafka.brokers,
      contracts: [contracts['order-fulfillment']],
      topics: ['orders', 'payments', 'inventory', 'shipping'],
      ingest: {
        kafka: { ssl: kafka.connection('troupe-tracker').ssl, sasl: kafka.connection('troupe-tracker').sasl },
        topicRefreshMs: 500,
      },
      codec,
      port: 0,
      logger: silent,
    });
    const publisher = await Publisher.create({
      transport: publisherTransport,
      codec,
      source: 'shop',
      contracts: [contracts['order-fulfillment']],
      topics: { partitions: 2 },
    });
    let seed = 7;
    const random = (): number => (seed = (seed * 16807) % 2147483647) / 2147483647;
    await Promise.all(
      sagaIds.map((id, i) => publisher.publish(OrderPlaced, orderFor(id, SCENARIOS[i] ?? 'happy', random), { sagaId: id })),
    );

    const ends = await waitForValue(
      async () => {
        const found = await readCommitted(admin, kafka, 'orders');
        const endings = found.filter((e) => e.sagaId.startsWith(run) && END_EVENTS.has(e.type));
        return endings.length >= sagaIds.length ? found : undefined;
      },
      { description: 'an end event for every saga', timeoutMs: 90_000, intervalMs: 500 },
    );
    const ids = ends.map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    const endedSagas = ends
      .filter((e) => END_EVENTS.has(e.type))
      .map((e) => e.sagaId)
      .sort();
    expect(endedSagas).toEqual([...sagaIds].sort());

    // The tracker, reading with its own principal, sees them all end.
    const statuses = await waitForValue(
      async () => {
        const res = await fetch(`${tracker?.url ?? ''}/api/sagas?prefix=${run}-&limit=20`);
        const page = (await res.json()) as { items: { sagaId: string; status: string }[] };
        const done = page.items.filter((s) => s.status === 'completed' || s.status === 'compensated');
        return done.length === sagaIds.length ? Object.fromEntries(page.items.map((s) => [s.sagaId, s.status])) : undefined;
      },
      { description: 'the tracker to see every saga end', timeoutMs: 60_000, intervalMs: 500 },
    );
    expect(Object.values(statuses).filter((s) => s === 'completed')).toHaveLength(3);
  });

  it("an operator's abort goes through with only troupe-operator's ACLs; the operator may write nothing else", async () => {
    // A saga whose carrier never answers, aborted by an operator long before its one-minute limit.
    const sagaId = `op-${run}`;
    const publisher = await Publisher.create({
      transport: await transportAs('publisher'),
      codec,
      source: 'shop',
      contracts: [contracts['order-fulfillment']],
      topics: { partitions: 2 },
    });
    await publisher.publish(OrderPlaced, orderFor(sagaId, 'carrier-silent', Math.random), { sagaId });
    await waitForValue(
      async () => {
        const inventory = await readCommitted(admin, kafka, 'inventory');
        return inventory.some((e) => e.sagaId === sagaId && e.type === 'com.acme.inventory.InventoryReserved') ? true : undefined;
      },
      { description: 'the stock to be reserved', timeoutMs: 60_000, intervalMs: 500 },
    );
    const operator = await transportAs('troupe-operator');
    const reply = await requestAbort({
      transport: operator,
      sagaType: 'order-fulfillment',
      sagaId,
      reason: 'customer called',
      by: 'alice',
    });
    expect(reply.status).toBe('accepted');
    const undone = await waitForValue(
      async () => {
        const [payments, inventory] = await Promise.all([
          readCommitted(admin, kafka, 'payments'),
          readCommitted(admin, kafka, 'inventory'),
        ]);
        const types = [...payments, ...inventory].filter((e) => e.sagaId === sagaId).map((e) => e.type);
        return types.includes('com.acme.payments.PaymentRefunded') && types.includes('com.acme.inventory.InventoryReleased')
          ? types
          : undefined;
      },
      { description: 'the refund and the release after the abort', timeoutMs: 60_000, intervalMs: 500 },
    );
    expect(undone.filter((t) => t.endsWith('Refunded') || t.endsWith('Released'))).toHaveLength(2);
    // The tracker shows who aborted it and why.
    const abort = await waitForValue(
      async () => {
        const page = (await (await fetch(`${tracker?.url ?? ''}/api/sagas?prefix=${sagaId}`)).json()) as {
          items: { status: string; abort?: { kind: string; by?: string; reason?: string } }[];
        };
        return page.items[0]?.status === 'compensated' ? page.items[0].abort : undefined;
      },
      { description: 'the tracker to see the aborted saga compensated', timeoutMs: 60_000, intervalMs: 500 },
    );
    expect(abort).toMatchObject({ kind: 'operator', by: 'alice', reason: 'customer called' });
    await refusedWith(operator.send([{ topic: 'orders', key: sagaId, value: Buffer.from('x'), headers: {} }]), 'NOT_AUTHORIZED');
  });

  it('troupe-tracker and troupe-dlq connect with the KAFKA_* variables and never print the password', async () => {
    const secured = {
      KAFKA_BROKERS: kafka.brokers.join(','),
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SSL_CA_FILE: kafka.caFile ?? '',
    };
    const port = await freePort();
    const password = users['troupe-tracker'] ?? '';
    const tracker = runCli(
      'packages/saga-tracker/src/cli/troupe-tracker.ts',
      ['--schemas', 'schemas', '--port', String(port), '--log-level', 'info'],
      {
        ...secured,
        KAFKA_SASL_USERNAME: 'troupe-tracker',
        KAFKA_SASL_PASSWORD: password,
      },
    );
    try {
      const ended = await waitForValue(
        async () => {
          const page = (await (await fetch(`http://127.0.0.1:${port}/api/sagas?prefix=${run}-&limit=20`)).json()) as {
            items: { status: string }[];
          };
          const done = page.items.filter((s) => s.status === 'completed' || s.status === 'compensated');
          return done.length === sagaIds.length ? done.length : undefined;
        },
        { description: `troupe-tracker on the secured broker (output: ${tracker.output()})`, timeoutMs: 60_000, intervalMs: 500 },
      );
      expect(ended).toBe(sagaIds.length);
    } finally {
      tracker.stop();
      await tracker.exited;
    }
    expect(tracker.output()).toContain('SASL scram-sha-512 as troupe-tracker, TLS (private CA)');
    expect(tracker.output()).not.toContain(password);

    const admin = kafka.connection().sasl as { username: string; password: string };
    const dlq = runCli('packages/sdk/src/cli/troupe-dlq.ts', ['list', 'orders.dlq'], {
      ...secured,
      KAFKA_SASL_USERNAME: admin.username,
      KAFKA_SASL_PASSWORD: admin.password,
    });
    expect(await dlq.exited).toBe(0);
    expect(dlq.output()).toContain('0 dead letter(s)');
    expect(dlq.output()).not.toContain(admin.password);
  });

  it('a service writing a topic it does not own is refused with NOT_AUTHORIZED', async () => {
    const payments = await transportAs('payment-service');
    const error = await refusedWith(payments.send([{ topic: 'orders', key: 'k', value: Buffer.from('x'), headers: {} }]), 'NOT_AUTHORIZED');
    expect(error.message).toContain('User:payment-service is not allowed to use a topic (TOPIC_AUTHORIZATION_FAILED)');
    expect(error.message).toContain('troupe-schemas acl');
    expect(error.retriable).toBe(false);

    const asPayment = await Publisher.create({
      transport: payments,
      codec,
      source: 'payment-service',
      contracts: [contracts['order-fulfillment']],
    });
    await refusedWith(
      asPayment.publish(OrderPlaced, orderFor(`${run}-forged`, 'happy', Math.random), { sagaId: `${run}-forged` }),
      'NOT_AUTHORIZED',
    );

    const trackerPrincipal = await transportAs('troupe-tracker');
    await refusedWith(trackerPrincipal.send([{ topic: 'payments', key: 'k', value: Buffer.from('x'), headers: {} }]), 'NOT_AUTHORIZED');
  });

  it('a service without ACLs cannot start, and says which ACLs to add', async () => {
    const error = await refusedWith(
      startService('payment-service', {
        transport: await transportAs('stranger'),
        codec,
        store: new MemoryIdempotencyStore(),
        logger: silent,
      }),
      'NOT_AUTHORIZED',
    );
    expect(error.message).toContain('User:stranger');
  });

  it('wrong credentials fail with AUTHENTICATION_FAILED', async () => {
    const { ssl } = kafka.connection();
    await refusedWith(
      KafkaTransport.create({
        brokers: kafka.brokers,
        ssl,
        sasl: { mechanism: 'scram-sha-512', username: 'payment-service', password: 'guess' },
        logger: silent,
      }),
      'AUTHENTICATION_FAILED',
    );
  });

  it('nothing forged reached the orders topic', async () => {
    const orders = await readCommitted(admin, kafka, 'orders');
    expect(orders.filter((e) => e.sagaId === `${run}-forged`)).toEqual([]);
  });
});

/** Every committed record of a topic (as the super user), decoded to its envelope. */
async function readCommitted(admin: Admin, kafka: LocalKafka, topic: string): Promise<{ id: string; type: string; sagaId: string }[]> {
  const ends = await admin.fetchTopicOffsets(topic);
  const total = ends.reduce((n, p) => n + Number(p.high), 0);
  const consumer = new Kafka({ clientId: 'lp-reader', logLevel: logLevel.NOTHING, ...kafka.connection() }).consumer({
    groupId: `lp-reader-${Math.random().toString(36).slice(2)}`,
    readUncommitted: false,
  });
  const seen: { id: string; type: string; sagaId: string }[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    const positions = new Map<number, bigint>();
    await new Promise<void>((resolve, reject) => {
      const done = (): boolean => ends.every((p) => (positions.get(p.partition) ?? 0n) >= BigInt(p.high));
      if (total === 0) return resolve();
      consumer
        .run({
          eachBatch: ({ batch }) => {
            for (const m of batch.messages) {
              const env = parseEnvelope(m.headers ?? {});
              seen.push({ id: env.id, type: env.type, sagaId: env.sagaId });
            }
            // Control records (transaction markers) count towards the end offset too.
            positions.set(batch.partition, BigInt(batch.lastOffset()) + 1n);
            if (done()) resolve();
            return Promise.resolve();
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return seen;
}
