import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { withRetries } from '@troupe/core';
import type avro from 'avsc';
import type { AvroRecordSchema, AvroSchema } from './avro-schema.js';
import { AvroEventCodec } from './avro-codec.js';
import { isCompatibilityLevel, type CompatibilityLevel } from './compatibility.js';
import { subjectOf, type EventType } from './event-type.js';
import { SchemaRegistryError } from './errors.js';
import type { RegisteredVersion, SchemaRegistryClient } from './registry-client.js';

export interface ConfluentSchemaRegistryOptions {
  /** Base URL of a Confluent-compatible REST API, e.g. `http://127.0.0.1:8081` or Apicurio's `…/apis/ccompat/v7`. */
  readonly url: string;
  /** Basic auth, passed to the client unchanged. */
  readonly auth?: { readonly username: string; readonly password: string };
  /**
   * Retries of one HTTP call inside the client before an operation fails with the retriable
   * `REGISTRY_UNAVAILABLE`; the caller's own retry policy takes over from there.
   * @default 2
   */
  readonly retries?: number;
  /**
   * Check at `create()` that the registry answers, so a wrong URL fails at start-up, not at the
   * first event.
   * @default true
   */
  readonly verify?: boolean;
  /**
   * How long `create()` keeps asking a registry that does not answer (`REGISTRY_UNAVAILABLE`:
   * refused, 5xx), e.g. one restarting while this process starts. A registry that answers with an
   * error (auth, 4xx) fails at once. 0: fail at the first unanswered call.
   * @default 0
   */
  readonly waitMs?: number;
  /** Called before each wait of `waitMs` (log it: the process is not stuck). */
  readonly onWait?: (err: SchemaRegistryError, attempt: number) => void;
}

interface HttpFailure {
  readonly status?: number;
  readonly message?: string;
}

/**
 * The client library (mappersmith) reports a request that got no answer at all — refused, reset,
 * unresolvable, timed out — as HTTP 400 carrying the socket error's message: the registry is
 * unreachable, which is retriable, not a bad request.
 */
const NO_ANSWER = /\b(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN|EPIPE)\b|socket hang up/;

function statusOf(err: unknown): number | undefined {
  return err !== null && typeof err === 'object' && typeof (err as HttpFailure).status === 'number'
    ? (err as HttpFailure).status
    : undefined;
}

/**
 * A Confluent-compatible registry over REST (Confluent Schema Registry, Karapace, Apicurio's
 * ccompat API, Redpanda) through `@kafkajs/confluent-schema-registry`. Writer schemas are cached
 * by id (by the client library) and resolvers per reader type (by {@link AvroEventCodec}), so
 * decoding makes no network call after the first message of each schema.
 */
export class ConfluentSchemaRegistry extends AvroEventCodec implements SchemaRegistryClient {
  private readonly client: SchemaRegistry;
  private readonly baseUrl: string;
  private readonly authHeader: string | undefined;

  private constructor(options: ConfluentSchemaRegistryOptions) {
    super();
    this.baseUrl = options.url.replace(/\/+$/, '');
    this.authHeader =
      options.auth === undefined
        ? undefined
        : `Basic ${Buffer.from(`${options.auth.username}:${options.auth.password}`).toString('base64')}`;
    this.client = new SchemaRegistry({
      host: this.baseUrl,
      ...(options.auth === undefined ? {} : { auth: { username: options.auth.username, password: options.auth.password } }),
      retry: { retries: options.retries ?? 2 },
    });
  }

  static async create(options: ConfluentSchemaRegistryOptions): Promise<ConfluentSchemaRegistry> {
    let url: URL;
    try {
      url = new URL(options.url);
    } catch (err) {
      throw new SchemaRegistryError(
        'REGISTRY_ERROR',
        `registry url '${options.url}' is not a URL; pass e.g. http://127.0.0.1:8081 (set SCHEMA_REGISTRY_URL).`,
        { cause: err },
      );
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new SchemaRegistryError('REGISTRY_ERROR', `registry url '${options.url}' must be http or https.`);
    }
    const retries = options.retries ?? 2;
    if (!Number.isInteger(retries) || retries < 0) {
      throw new SchemaRegistryError('REGISTRY_ERROR', `retries ${retries} must be a whole number >= 0.`);
    }
    const waitMs = options.waitMs ?? 0;
    if (!Number.isFinite(waitMs) || waitMs < 0) {
      throw new SchemaRegistryError('REGISTRY_ERROR', `waitMs ${waitMs} must be a number of milliseconds >= 0.`);
    }
    const reg = new ConfluentSchemaRegistry(options);
    if (!(options.verify ?? true)) return reg;
    const until = Date.now() + waitMs;
    const answered = await withRetries(() => reg.http('GET', '/subjects'), {
      attempts: Number.MAX_SAFE_INTEGER,
      delayMs: (failures) => Math.max(0, Math.min(250 * 2 ** Math.min(failures - 1, 4), until - Date.now())),
      retryOn: (err) => err instanceof SchemaRegistryError && err.code === 'REGISTRY_UNAVAILABLE' && Date.now() < until,
      onRetry: (err, attempt) => options.onWait?.(err as SchemaRegistryError, attempt),
    });
    if (!answered.ok) throw answered.error;
    return reg;
  }

  private async http<T>(method: 'GET' | 'PUT' | 'POST', path: string, body?: unknown): Promise<{ status: number; data: T | undefined }> {
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: {
          accept: 'application/vnd.schemaregistry.v1+json, application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/vnd.schemaregistry.v1+json' }),
          ...(this.authHeader === undefined ? {} : { authorization: this.authHeader }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (err) {
      throw new SchemaRegistryError(
        'REGISTRY_UNAVAILABLE',
        `cannot reach the schema registry at ${this.baseUrl} (${(err as Error).message}); check that it runs and that SCHEMA_REGISTRY_URL is right.`,
        { cause: err },
      );
    }
    const text = await res.text();
    const data = text === '' ? undefined : (JSON.parse(text) as T);
    if (res.status >= 500) {
      throw new SchemaRegistryError('REGISTRY_UNAVAILABLE', `schema registry ${method} ${path} answered ${res.status}: ${text}`);
    }
    if (res.status >= 400 && res.status !== 404) {
      throw new SchemaRegistryError(
        res.status === 401 || res.status === 403 ? 'REGISTRY_ERROR' : 'REGISTRY_ERROR',
        `schema registry ${method} ${path} answered ${res.status}: ${text}${res.status === 401 ? ' (check the credentials)' : ''}`,
      );
    }
    return { status: res.status, data };
  }

  /** Maps the client library's errors onto our codes, keeping the original as `cause`. */
  private fail(err: unknown, what: string, subject?: string): never {
    if (err instanceof SchemaRegistryError) throw err;
    const status = statusOf(err);
    const msg = (err as Error).message;
    const path = subject === undefined ? {} : { path: subject };
    if (status === 409) {
      throw new SchemaRegistryError(
        'INCOMPATIBLE_SCHEMA',
        `${what}: the registry rejects the schema as incompatible with ${subject ?? 'the subject'} (${msg}). Run \`troupe-schemas check\` for the reason.`,
        { cause: err, ...path },
      );
    }
    if (status === 422)
      throw new SchemaRegistryError('INVALID_SCHEMA', `${what}: the registry rejects the schema (${msg}).`, { cause: err, ...path });
    if (status === undefined || status >= 500 || status === 408 || status === 429 || NO_ANSWER.test(msg)) {
      throw new SchemaRegistryError('REGISTRY_UNAVAILABLE', `${what}: schema registry at ${this.baseUrl} is unavailable (${msg}).`, {
        cause: err,
        ...path,
      });
    }
    throw new SchemaRegistryError('REGISTRY_ERROR', `${what}: ${msg}`, { cause: err, ...path });
  }

  async register(subject: string, schema: AvroRecordSchema): Promise<number> {
    // The client compares the level we pass with the subject's `/config` answer and throws on a
    // mismatch; pass exactly that answer so it never overrides a level an operator chose.
    const cfg = await this.http<{ compatibilityLevel?: string }>('GET', `/config/${encodeURIComponent(subject)}`);
    const configured = cfg.status === 404 ? undefined : cfg.data?.compatibilityLevel?.toUpperCase();
    try {
      const { id } = await this.client.register(
        { type: SchemaType.AVRO, schema: JSON.stringify(schema) },
        {
          subject,
          ...(configured !== undefined && isCompatibilityLevel(configured)
            ? { compatibility: configured as never }
            : { compatibility: undefined }),
        },
      );
      return id;
    } catch (err) {
      this.fail(err, `registering ${subject}`, subject);
    }
  }

  protected lookupId(type: EventType): Promise<number> {
    return this.register(subjectOf(type), type.schema);
  }

  /** The framing is the client library's, so bytes are exactly what its own users produce. */
  protected override async encodeValid(id: number, _avroType: avro.Type, payload: unknown): Promise<Buffer> {
    try {
      return await this.client.encode(id, payload);
    } catch (err) {
      this.fail(err, `encoding with schema id ${id}`);
    }
  }

  protected async fetchWriterType(id: number): Promise<avro.Type> {
    try {
      return (await this.client.getSchema(id)) as unknown as avro.Type;
    } catch (err) {
      if (statusOf(err) === 404) {
        throw new SchemaRegistryError(
          'UNKNOWN_SCHEMA_ID',
          `schema id ${id} is not known to the registry at ${this.baseUrl}; the message was produced against another registry.`,
          { cause: err },
        );
      }
      this.fail(err, `fetching schema id ${id}`);
    }
  }

  async schemaById(id: number): Promise<AvroSchema> {
    const res = await this.http<{ schema: string }>('GET', `/schemas/ids/${id}`);
    if (res.status === 404 || res.data === undefined) {
      throw new SchemaRegistryError('UNKNOWN_SCHEMA_ID', `schema id ${id} is not known to the registry at ${this.baseUrl}.`);
    }
    return JSON.parse(res.data.schema) as AvroSchema;
  }

  async versions(subject: string): Promise<RegisteredVersion[]> {
    const s = encodeURIComponent(subject);
    const list = await this.http<number[]>('GET', `/subjects/${s}/versions`);
    if (list.status === 404 || list.data === undefined) return [];
    const out: RegisteredVersion[] = [];
    for (const v of [...list.data].sort((a, b) => a - b)) {
      const one = await this.http<{ id: number; version: number; schema: string }>('GET', `/subjects/${s}/versions/${v}`);
      if (one.data === undefined) continue;
      out.push({ subject, version: one.data.version, id: one.data.id, schema: JSON.parse(one.data.schema) as AvroSchema });
    }
    return out;
  }

  /**
   * The level the registry enforces for a subject. Asks with `defaultToGlobal=true`: Apicurio
   * answers a subject without its own level with NONE otherwise, while enforcing the global one.
   */
  async compatibilityLevel(subject: string): Promise<CompatibilityLevel> {
    const own = await this.http<{ compatibilityLevel?: string }>('GET', `/config/${encodeURIComponent(subject)}?defaultToGlobal=true`);
    const found = own.status === 404 ? (await this.http<{ compatibilityLevel?: string }>('GET', '/config')).data : own.data;
    const level = found?.compatibilityLevel?.toUpperCase() ?? 'BACKWARD';
    if (!isCompatibilityLevel(level)) {
      throw new SchemaRegistryError(
        'REGISTRY_ERROR',
        `subject ${subject} has compatibility level '${level}', which Troupe does not know.`,
        { path: subject },
      );
    }
    return level;
  }

  /**
   * The registry's own verdict on a candidate for a subject, at the subject's level: against every
   * version where the server supports it (`POST /compatibility/subjects/{s}/versions`), else
   * against the latest. Messages are the server's, when it gives any.
   */
  async testCompatibility(subject: string, schema: AvroRecordSchema): Promise<{ compatible: boolean; messages: string[] }> {
    const s = encodeURIComponent(subject);
    const body = { schema: JSON.stringify(schema) };
    let res = await this.http<{ is_compatible?: boolean; messages?: string[] }>(
      'POST',
      `/compatibility/subjects/${s}/versions?verbose=true`,
      body,
    ).catch((err: unknown) => {
      if (err instanceof SchemaRegistryError && err.code === 'REGISTRY_ERROR' && / answered 405/.test(err.message)) return undefined;
      throw err;
    });
    if (res === undefined || res.status === 404) {
      res = await this.http<{ is_compatible?: boolean; messages?: string[] }>(
        'POST',
        `/compatibility/subjects/${s}/versions/latest?verbose=true`,
        body,
      );
    }
    if (res.status === 404) return { compatible: true, messages: ['subject not registered yet'] };
    return { compatible: res.data?.is_compatible === true, messages: res.data?.messages ?? [] };
  }

  async setCompatibilityLevel(subject: string, level: CompatibilityLevel): Promise<void> {
    await this.http('PUT', `/config/${encodeURIComponent(subject)}`, { compatibility: level });
  }

  /** The client keeps no connections open between calls; nothing to release. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}
