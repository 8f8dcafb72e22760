import { SignJWT } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { defineEventType, MemorySchemaRegistry } from '@troupe/schema-registry';
import { ORDER_CONTRACT, T_START, chain } from '../order-saga.fixture.js';
import { MemorySagaStore } from '../store/memory-store.js';
import { buildTrackerApp } from './app.js';
import { checkAuthOptions } from './auth.js';

const READER = 'reader-token-0123456789';
const PAYLOADS = 'payload-token-0123456789';
const SECRET = 'a-shared-hs256-secret-for-tests';

interface Card {
  orderId: string;
  card: { holder: string; number: string };
}
const Charged = defineEventType<Card>({
  name: 'test.Charged',
  topic: 'payments',
  schema: {
    type: 'record',
    name: 'Charged',
    namespace: 'test',
    fields: [
      { name: 'orderId', type: 'string' },
      {
        name: 'card',
        type: {
          type: 'record',
          name: 'Card',
          fields: [
            { name: 'holder', type: 'string' },
            { name: 'number', type: 'string' },
          ],
        },
      },
    ],
  },
});

describe('tracker access control', () => {
  let store: MemorySagaStore;
  let app: FastifyInstance;
  let chargedType = '';

  beforeEach(async () => {
    const codec = await MemorySchemaRegistry.create();
    const bytes = await codec.encode(Charged, { orderId: 'o-1', card: { holder: 'Ada', number: '4111 1111 1111 1111' } });
    const events = chain('o-1', ['placed', 'charged']).map((e, i) => (i === 1 ? { ...e, payload: bytes.toString('base64') } : e));
    chargedType = events[1]?.type ?? '';
    store = await MemorySagaStore.create({ contracts: [ORDER_CONTRACT] });
    await store.apply({ events });
    app = buildTrackerApp({
      store,
      codec,
      now: () => T_START + 60_000,
      auth: {
        tokens: [
          { token: READER, access: 'metadata' },
          { token: PAYLOADS, access: 'payloads' },
        ],
        jwt: { secret: SECRET, issuer: 'https://idp.test' },
        redact: [`${chargedType}:card.number`],
      },
    });
  });
  afterEach(async () => {
    await app.close();
    await store.close();
  });

  const get = (url: string, authorization?: string) =>
    app.inject({ method: 'GET', url, headers: authorization !== undefined ? { authorization } : {} });
  const jwt = (claims: Record<string, unknown>, issuer = 'https://idp.test', secret = SECRET) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(issuer)
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(secret));

  it('refuses the API without credentials or with a wrong token, and keeps /health open', async () => {
    const none = await get('/api/sagas');
    expect(none.statusCode).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer realm="troupe-tracker"');
    expect(none.json()).toEqual({ error: 'UNAUTHORIZED', message: expect.stringContaining('Authorization: Bearer') as string });
    expect((await get('/api/sagas', `Bearer ${READER.replace('0', '1')}`)).statusCode).toBe(401);
    expect((await get('/api/stream')).statusCode).toBe(401);
    expect((await get('/health')).statusCode).toBe(200);
  });

  it('asks a browser for the token on the page, and accepts it as the Basic password', async () => {
    const page = await get('/');
    expect(page.statusCode).toBe(401);
    expect(page.headers['www-authenticate']).toMatch(/^Basic realm="troupe-tracker"/);
    const basic = `Basic ${Buffer.from(`anyone:${READER}`).toString('base64')}`;
    expect((await get('/', basic)).statusCode).toBe(200);
    expect((await get('/api/sagas', basic)).statusCode).toBe(200);
  });

  it('shows metadata to a reader token, payloads only to a payload token, redacted', async () => {
    const meta = await get('/api/sagas/o-1', `Bearer ${READER}`);
    expect(meta.statusCode).toBe(200);
    expect(JSON.stringify(meta.json())).not.toContain('Ada');
    const forbidden = await get('/api/sagas/o-1?payloads=true', `Bearer ${READER}`);
    expect(forbidden.statusCode).toBe(403);
    expect(forbidden.json()).toMatchObject({ error: 'FORBIDDEN' });

    const full = await get('/api/sagas/o-1?payloads=true', `Bearer ${PAYLOADS}`);
    expect(full.statusCode).toBe(200);
    const timeline = full.json<{ timeline: { type: string; payload?: unknown }[] }>().timeline;
    expect(timeline.find((e) => e.type === chargedType)?.payload).toEqual({
      orderId: 'o-1',
      card: { holder: 'Ada', number: '[redacted]' },
    });
    expect(full.body).not.toContain('4111');
  });

  it('verifies JWTs: the payload scope grants payloads, a wrong issuer or signature nothing', async () => {
    expect((await get('/api/sagas', `Bearer ${await jwt({ sub: 'ops' })}`)).statusCode).toBe(200);
    expect((await get('/api/sagas/o-1?payloads=true', `Bearer ${await jwt({ sub: 'ops' })}`)).statusCode).toBe(403);
    expect(
      (await get('/api/sagas/o-1?payloads=true', `Bearer ${await jwt({ sub: 'ops', scope: 'openid troupe:payloads' })}`)).statusCode,
    ).toBe(200);
    expect((await get('/api/sagas', `Bearer ${await jwt({ sub: 'ops' }, 'https://evil.test')}`)).statusCode).toBe(401);
    expect(
      (await get('/api/sagas', `Bearer ${await jwt({ sub: 'ops' }, 'https://idp.test', 'another-secret-of-enough-length')}`)).statusCode,
    ).toBe(401);
  });

  it('refuses weak tokens, ambiguous JWT settings and bad redaction rules at start', () => {
    expect(() => checkAuthOptions({ tokens: [{ token: 'short', access: 'metadata' }] })).toThrow(/at least 16 characters/);
    expect(() => checkAuthOptions({ jwt: {} })).toThrow(/exactly one of jwksUrl/);
    expect(() => checkAuthOptions({ redact: ['cardNumber'] })).toThrow(/<event type or \*>:<dotted.field.path>/);
  });
});
