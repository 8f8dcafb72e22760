import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createRemoteJWKSet, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { TrackerError } from '../errors.js';

/** What a caller may see: saga metadata only, or decoded payloads too. */
export type TrackerAccess = 'metadata' | 'payloads';

/**
 * Who may read the tracker. Without any of `tokens` or `jwt` the tracker is open (and should
 * then listen on 127.0.0.1 only, its default).
 */
export interface TrackerAuthOptions {
  /**
   * Static bearer tokens (≥ 16 characters) and their access. A browser sends them through its
   * Basic-auth prompt (any user name, the token as password).
   * @default []
   */
  readonly tokens?: readonly { readonly token: string; readonly access: TrackerAccess }[];
  /** JWT bearer tokens (e.g. from your OIDC provider), verified with `jose`. */
  readonly jwt?: {
    /** JWKS of the issuer, e.g. `https://idp.example.com/.well-known/jwks.json`. */
    readonly jwksUrl?: string;
    /** Shared secret for HS256 tokens (tests, simple set-ups). */
    readonly secret?: string;
    readonly issuer?: string;
    readonly audience?: string;
    /** Scope (in the `scope` claim, space-separated) that grants payload access. @default 'troupe:payloads' */
    readonly payloadScope?: string;
  };
  /**
   * Payload fields hidden from every caller, as `<event type or *>:<dotted.path>`, e.g.
   * `com.acme.orders.OrderPlaced:shippingAddress` or `*:cardNumber`.
   * @default []
   */
  readonly redact?: readonly string[];
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the tracker's auth hook: what this caller may see. */
    troupeAccess?: TrackerAccess;
  }
}

/** Routes anyone may call: orchestrators probe health without credentials, and the page's static files hold no data. */
const OPEN_ROUTES = new Set(['/health']);
const PAGE_ROUTES = new Set(['/', '/app.js', '/app.css']);

/** Whether any authentication is configured. */
export function authEnabled(options: TrackerAuthOptions | undefined): boolean {
  return (options?.tokens?.length ?? 0) > 0 || options?.jwt !== undefined;
}

/** Checks the options at start-up: weak tokens and incomplete JWT settings are refused with advice. */
export function checkAuthOptions(options: TrackerAuthOptions): void {
  for (const t of options.tokens ?? []) {
    if (t.token.length < 16)
      throw new TrackerError(
        'INVALID_OPTIONS',
        'auth.tokens: a token must have at least 16 characters; generate one with `openssl rand -hex 24`.',
      );
  }
  const jwt = options.jwt;
  if (jwt !== undefined && (jwt.jwksUrl === undefined) === (jwt.secret === undefined)) {
    throw new TrackerError('INVALID_OPTIONS', "auth.jwt: give exactly one of jwksUrl (your identity provider's JWKS) or secret (HS256).");
  }
  for (const rule of options.redact ?? []) parseRedaction(rule);
}

/**
 * Adds authentication to every route but `/health`: `Authorization: Bearer <token or JWT>`, or
 * Basic with the token as password (what a browser's login prompt sends, so the page works). A
 * caller without valid credentials gets 401 and nothing else.
 */
export function installAuth(app: FastifyInstance, options: TrackerAuthOptions): void {
  checkAuthOptions(options);
  const tokens = (options.tokens ?? []).map((t) => ({ token: Buffer.from(t.token), access: t.access }));
  const jwt = options.jwt;
  const key: Uint8Array | JWTVerifyGetKey | undefined =
    jwt === undefined
      ? undefined
      : jwt.secret !== undefined
        ? new TextEncoder().encode(jwt.secret)
        : createRemoteJWKSet(new URL(jwt.jwksUrl ?? ''));
  const payloadScope = jwt?.payloadScope ?? 'troupe:payloads';

  const verifyJwt = async (token: string): Promise<TrackerAccess | undefined> => {
    if (key === undefined || token.split('.').length !== 3) return undefined;
    try {
      const verifyOptions = {
        ...(jwt?.issuer !== undefined ? { issuer: jwt.issuer } : {}),
        ...(jwt?.audience !== undefined ? { audience: jwt.audience } : {}),
      };
      const { payload } =
        key instanceof Uint8Array ? await jwtVerify(token, key, verifyOptions) : await jwtVerify(token, key, verifyOptions);
      return scopes(payload).includes(payloadScope) ? 'payloads' : 'metadata';
    } catch {
      return undefined;
    }
  };

  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    const path = req.url.split('?')[0] ?? req.url;
    if (OPEN_ROUTES.has(path)) return;
    const presented = credentials(req.headers.authorization);
    let access: TrackerAccess | undefined;
    if (presented !== undefined) {
      const given = Buffer.from(presented);
      access =
        tokens.find((t) => t.token.length === given.length && timingSafeEqual(t.token, given))?.access ?? (await verifyJwt(presented));
    }
    if (access === undefined) {
      // The page gets a Basic challenge so a browser asks for the token; API clients a Bearer one.
      const challenge = PAGE_ROUTES.has(path) ? 'Basic realm="troupe-tracker", charset="UTF-8"' : 'Bearer realm="troupe-tracker"';
      return reply
        .code(401)
        .header('www-authenticate', challenge)
        .send({ error: 'UNAUTHORIZED', message: 'this tracker needs credentials: send Authorization: Bearer <token or JWT>.' });
    }
    req.troupeAccess = access;
  });
}

function credentials(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const [scheme, value] = header.split(' ', 2);
  if (value === undefined || value === '') return undefined;
  if (/^bearer$/i.test(scheme ?? '')) return value;
  if (/^basic$/i.test(scheme ?? '')) {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon < 0 ? undefined : decoded.slice(colon + 1);
  }
  return undefined;
}

function scopes(payload: JWTPayload): string[] {
  const scope = payload['scope'];
  const scp = payload['scp'];
  if (typeof scope === 'string') return scope.split(' ');
  if (Array.isArray(scp)) return scp.filter((s): s is string => typeof s === 'string');
  return [];
}

/** May this request see payloads? Without auth configured: yes (the tracker is local-only then). */
export function maySeePayloads(req: FastifyRequest, enabled: boolean): boolean {
  return !enabled || req.troupeAccess === 'payloads';
}

interface Redaction {
  readonly type: string;
  readonly path: readonly string[];
}

function parseRedaction(rule: string): Redaction {
  const colon = rule.indexOf(':');
  const type = rule.slice(0, colon);
  const path = rule.slice(colon + 1).split('.');
  if (colon <= 0 || path.some((p) => p === '')) {
    throw new TrackerError('INVALID_OPTIONS', `redact rule '${rule}' must be <event type or *>:<dotted.field.path>, e.g. '*:cardNumber'.`);
  }
  return { type, path };
}

/** Applies redaction rules to decoded payloads. */
export interface Redactor {
  /** Whether any rule exists (raw bytes are then never shown). */
  readonly active: boolean;
  apply(type: string, payload: unknown): unknown;
}

export function redactor(rules: readonly string[] | undefined): Redactor {
  const parsed = (rules ?? []).map(parseRedaction);
  return {
    active: parsed.length > 0,
    apply: (type, payload) => {
      let out = payload;
      for (const r of parsed) if (r.type === '*' || r.type === type) out = redactPath(out, r.path);
      return out;
    },
  };
}

function redactPath(value: unknown, path: readonly string[]): unknown {
  const [head, ...rest] = path;
  if (head === undefined) return '[redacted]';
  if (Array.isArray(value)) return value.map((v) => redactPath(v, path));
  if (typeof value !== 'object' || value === null || !(head in value)) return value;
  const obj = value as Record<string, unknown>;
  return { ...obj, [head]: redactPath(obj[head], rest) };
}
