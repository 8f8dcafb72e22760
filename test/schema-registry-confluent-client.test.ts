// Our event schemas through `@kafkajs/confluent-schema-registry`, unmodified, against a real
// registry; and Troupe's ConfluentSchemaRegistry producing and reading the same bytes.
import { randomBytes } from 'node:crypto';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import avro from 'avsc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ConfluentSchemaRegistry,
  SchemaRegistryError,
  createSchemaRegistry,
  defineEventType,
  loadCatalog,
  subjectOf,
  type Catalog,
  type EventType,
} from '@troupe/schema-registry';
import { PaymentCharged } from './generated/events.js';

function registryUrl(): string {
  const url = process.env['SCHEMA_REGISTRY_URL'];
  if (!url) throw new Error('SCHEMA_REGISTRY_URL is not set: the integration global setup should have started a registry.');
  return url;
}

/** The same event type on a topic of its own, so every test run has fresh subjects. */
function onFreshTopic<T>(type: EventType<T>): EventType<T> {
  return defineEventType<T>({ name: type.name, topic: `${type.topic}-${randomBytes(5).toString('hex')}`, schema: type.schema });
}

/** Plain data: avsc decodes records into class instances, which is not what `toEqual` should compare. */
const plain = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

let catalog: Catalog;
beforeAll(async () => {
  catalog = await loadCatalog(join(import.meta.dirname, '../schemas'));
});

describe('@kafkajs/confluent-schema-registry against the real registry', () => {
  it('registers every example event, gets the same ids back on a second registration, and round-trips payloads', async () => {
    const client = new SchemaRegistry({ host: registryUrl() });
    const suffix = randomBytes(5).toString('hex');
    const ids = new Map<string, number>();
    for (const e of catalog.events) {
      const subject = `${e.topic}-${suffix}-${e.name}`;
      const { id } = await client.register({ type: SchemaType.AVRO, schema: JSON.stringify(e.schema) }, { subject });
      ids.set(subject, id);
    }
    expect(new Set(ids.values()).size).toBe(catalog.events.length);
    for (const e of catalog.events) {
      const subject = `${e.topic}-${suffix}-${e.name}`;
      const again = await new SchemaRegistry({ host: registryUrl() }).register(
        { type: SchemaType.AVRO, schema: JSON.stringify(e.schema) },
        { subject },
      );
      expect(again.id).toBe(ids.get(subject));
      // avsc's random() gives a valid value of every field type, including enums, unions and arrays.
      const payload: unknown = avro.Type.forSchema(e.schema as avro.Schema).random();
      const bytes = await client.encode(again.id, payload);
      expect(bytes[0]).toBe(0);
      expect(bytes.readInt32BE(1)).toBe(again.id);
      expect(plain(await client.decode(bytes))).toEqual(plain(payload));
    }
  });

  it('reads what Troupe wrote and Troupe reads what it wrote, byte for byte the same frame', async () => {
    const type = onFreshTopic(PaymentCharged);
    const troupe = await ConfluentSchemaRegistry.create({ url: registryUrl() });
    const client = new SchemaRegistry({ host: registryUrl() });
    const payload: PaymentCharged = { orderId: 'o-17', paymentId: 'p-9', amountCents: 129_900, currency: 'EUR', method: 'PAYPAL' };
    const ours = await troupe.encode(type, payload);
    expect(plain(await client.decode(ours))).toEqual(payload);
    const id = await client.getRegistryIdBySchema(subjectOf(type), { type: SchemaType.AVRO, schema: JSON.stringify(type.schema) });
    expect(id).toBe(ours.readInt32BE(1));
    const theirs = await client.encode(id, payload);
    expect(theirs.equals(ours)).toBe(true);
    const decoded = await troupe.decode(theirs, type);
    expect(decoded).toMatchObject({ schemaId: id, type: 'com.acme.payments.PaymentCharged' });
    expect(plain(decoded.payload)).toEqual(payload);
  });

  it('createSchemaRegistry() with SCHEMA_REGISTRY_URL set is that registry: another client decodes what it wrote', async () => {
    const type = onFreshTopic(PaymentCharged);
    const fromEnv = await createSchemaRegistry(); // SCHEMA_REGISTRY_URL, set by the global setup
    expect(fromEnv).toBeInstanceOf(ConfluentSchemaRegistry);
    const payload: PaymentCharged = { orderId: 'o-18', paymentId: 'p-10', amountCents: 500, currency: 'EUR', method: 'CARD' };
    const bytes = await fromEnv.encode(type, payload);
    const other = await ConfluentSchemaRegistry.create({ url: registryUrl() });
    expect(plain((await other.decode(bytes, type)).payload)).toEqual(payload);
    await Promise.all([fromEnv.close(), other.close()]);
  });

  it('rejects an invalid payload with PAYLOAD_INVALID naming the field, and registers nothing', async () => {
    const type = onFreshTopic(PaymentCharged);
    const troupe = await ConfluentSchemaRegistry.create({ url: registryUrl() });
    const bad = { orderId: 'o-1', paymentId: 'p-1', amountCents: '12.00', currency: 'EUR', method: 'CASH' } as unknown as PaymentCharged;
    const err = await troupe.encode(type, bad).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SchemaRegistryError);
    expect(err).toMatchObject({ code: 'PAYLOAD_INVALID', path: 'amountCents', retriable: false });
    expect((err as Error).message).toContain(`'method' must be one of 'CARD', 'PAYPAL', 'BANK_TRANSFER', got string "CASH"`);
    expect(await troupe.versions(subjectOf(type))).toEqual([]);
  });

  it('reports the level the registry enforces, also where Apicurio answers /config/{subject} with NONE', async () => {
    const type = onFreshTopic(PaymentCharged);
    const troupe = await ConfluentSchemaRegistry.create({ url: registryUrl() });
    await troupe.schemaIdOf(type);
    const global = ((await (await fetch(`${registryUrl()}/config`)).json()) as { compatibilityLevel: string }).compatibilityLevel;
    const raw = await fetch(`${registryUrl()}/config/${subjectOf(type)}`);
    // Confluent answers 404 (no subject-level config); Apicurio (3.0 and 3.3) answers 200 NONE yet enforces
    // the global level. Troupe asks with defaultToGlobal=true and gets the level in force.
    expect([404, 200]).toContain(raw.status);
    expect(await troupe.compatibilityLevel(subjectOf(type))).toBe(global);
    await troupe.setCompatibilityLevel(subjectOf(type), 'FULL_TRANSITIVE');
    expect(await troupe.compatibilityLevel(subjectOf(type))).toBe('FULL_TRANSITIVE');
  });

  it('maps an unknown schema id to UNKNOWN_SCHEMA_ID', async () => {
    const troupe = await ConfluentSchemaRegistry.create({ url: registryUrl() });
    const frame = Buffer.from([0, 0x7f, 0xff, 0xff, 0x00, 2, 0x41]);
    await expect(troupe.decode(frame)).rejects.toMatchObject({ code: 'UNKNOWN_SCHEMA_ID' });
  });
});

describe('ConfluentSchemaRegistry caching', () => {
  let proxy: Server;
  let proxyUrl: string;
  const seen: string[] = [];

  // A counting pass-through in front of the real registry: every HTTP call the client makes is seen.
  beforeAll(async () => {
    const target = new URL(registryUrl());
    proxy = createServer((req, res) => {
      seen.push(`${req.method ?? '?'} ${req.url ?? ''}`);
      const upstream = request(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host } },
        (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      req.pipe(upstream);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const base = target.pathname.replace(/\/+$/, '');
    proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}${base}`;
  });
  afterAll(async () => {
    await new Promise<void>((r) => proxy.close(() => r()));
  });

  it('decodes a schema id with one registry call, then none however many messages follow', async () => {
    const type = onFreshTopic(PaymentCharged);
    const writer = await ConfluentSchemaRegistry.create({ url: registryUrl() });
    const messages = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        writer.encode(type, { orderId: `o-${i}`, paymentId: `p-${i}`, amountCents: i * 100, currency: 'EUR', method: 'CARD' }),
      ),
    );
    const reader = await ConfluentSchemaRegistry.create({ url: proxyUrl, verify: false });
    seen.length = 0;
    const first = await reader.decode(messages[0] as Buffer, type);
    const callsForFirst = seen.length;
    expect(callsForFirst).toBeGreaterThan(0);
    expect(seen.every((s) => s.includes('/schemas/ids/'))).toBe(true);
    for (const m of messages.slice(1)) await reader.decode(m, type);
    expect(seen.length).toBe(callsForFirst);
    expect(first.payload.orderId).toBe('o-0');
  });

  it('registers an event type once per client, not once per encode', async () => {
    const type = onFreshTopic(PaymentCharged);
    const client = await ConfluentSchemaRegistry.create({ url: proxyUrl, verify: false });
    seen.length = 0;
    for (let i = 0; i < 20; i++) {
      await client.encode(type, { orderId: `o-${i}`, paymentId: 'p', amountCents: i, currency: 'EUR', method: 'CARD' });
    }
    const after20 = seen.length;
    expect(after20).toBeGreaterThan(0);
    await client.encode(type, { orderId: 'o-x', paymentId: 'p', amountCents: 1, currency: 'EUR', method: 'CARD' });
    expect(seen.length).toBe(after20);
  });
});
