import { TrackerError } from '../errors.js';
import { DEVIATION_KINDS, SAGA_STATUSES } from '../projection/index.js';
import type { DeviationKind, SagaStatus } from '../projection/index.js';
import { MAX_LIST_LIMIT } from '../store/saga-store.js';
import type { ActivityQuery, ListQuery } from '../store/saga-store.js';

export type RawQuery = Readonly<Record<string, string | string[] | undefined>>;

const LIST_PARAMS = new Set([
  'type',
  'status',
  'stuck',
  'conforming',
  'deviation',
  'participant',
  'eventType',
  'reason',
  'from',
  'to',
  'prefix',
  'limit',
  'cursor',
]);
/** `attr.<name>=<value>`: a business attribute declared in a contract. */
const ATTRIBUTE_PARAM = /^attr\.([a-zA-Z][a-zA-Z0-9_]*)$/;

function bad(message: string): TrackerError {
  return new TrackerError('INVALID_QUERY', message);
}

function single(q: RawQuery, name: string): string | undefined {
  const v = q[name];
  if (Array.isArray(v)) throw bad(`query parameter '${name}' was given ${v.length} times; give it once.`);
  return v === '' ? undefined : v;
}

/** An instant as ISO-8601 or milliseconds since the epoch. */
export function parseInstant(name: string, v: string): number {
  const t = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(t)) throw bad(`'${name}' must be an ISO-8601 time or epoch milliseconds, got '${v}'.`);
  return t;
}

/** Validates `GET /api/sagas` parameters; unknown or malformed ones are errors, not ignored. */
export function parseListQuery(q: RawQuery, now: number): ListQuery {
  const out: { -readonly [K in keyof ListQuery]: ListQuery[K] } = { now };
  const attributes: Record<string, string> = {};
  for (const k of Object.keys(q)) {
    const attr = ATTRIBUTE_PARAM.exec(k)?.[1];
    if (attr !== undefined) {
      const v = single(q, k);
      if (v !== undefined) attributes[attr] = v;
      continue;
    }
    if (!LIST_PARAMS.has(k)) throw bad(`unknown query parameter '${k}'; use ${[...LIST_PARAMS].join(', ')} or attr.<name>.`);
  }
  if (Object.keys(attributes).length > 0) out.attributes = attributes;
  for (const name of ['participant', 'eventType', 'reason'] as const) {
    const v = single(q, name);
    if (v !== undefined) out[name] = v;
  }
  const type = single(q, 'type');
  if (type !== undefined) out.type = type;
  const status = single(q, 'status');
  if (status !== undefined) {
    const list = status.split(',').map((s) => s.trim());
    for (const s of list) {
      if (!(SAGA_STATUSES as readonly string[]).includes(s)) throw bad(`status '${s}' is not one of ${SAGA_STATUSES.join(', ')}.`);
    }
    out.status = list as SagaStatus[];
  }
  const stuck = optionalBoolean(q, 'stuck');
  if (stuck !== undefined) out.stuck = stuck;
  const conforming = optionalBoolean(q, 'conforming');
  if (conforming !== undefined) out.conforming = conforming;
  const deviation = single(q, 'deviation');
  if (deviation !== undefined) {
    if (!(DEVIATION_KINDS as readonly string[]).includes(deviation)) {
      throw bad(`deviation '${deviation}' is not one of ${DEVIATION_KINDS.join(', ')}.`);
    }
    out.deviation = deviation as DeviationKind;
  }
  const from = single(q, 'from');
  if (from !== undefined) out.startedFrom = parseInstant('from', from);
  const to = single(q, 'to');
  if (to !== undefined) out.startedTo = parseInstant('to', to);
  if (out.startedFrom !== undefined && out.startedTo !== undefined && out.startedFrom >= out.startedTo) {
    throw bad(`'from' must be before 'to'.`);
  }
  const prefix = single(q, 'prefix');
  if (prefix !== undefined) out.idPrefix = prefix;
  const limit = single(q, 'limit');
  if (limit !== undefined) {
    const n = Number(limit);
    if (!Number.isInteger(n) || n < 1 || n > MAX_LIST_LIMIT)
      throw bad(`'limit' must be an integer from 1 to ${MAX_LIST_LIMIT}, got '${limit}'.`);
    out.limit = n;
  }
  const cursor = single(q, 'cursor');
  if (cursor !== undefined) out.cursor = cursor;
  return out;
}

export function parseBoolean(q: RawQuery, name: string): boolean {
  return optionalBoolean(q, name) ?? false;
}

function optionalBoolean(q: RawQuery, name: string): boolean | undefined {
  const v = single(q, name);
  if (v === undefined) return undefined;
  if (v !== 'true' && v !== 'false') throw bad(`'${name}' must be true or false, got '${v}'.`);
  return v === 'true';
}

const MINUTE = 60_000;
/** The overview chart draws at most this many bars. */
const ACTIVITY_BARS = 60;

/**
 * `GET /api/activity?type=&minutes=60`: the last `minutes` (1 to 10080) up to `now`, in at most 60
 * buckets of whole minutes on bucket boundaries (the last one holds `now`).
 */
export function parseActivityQuery(q: RawQuery, now: number): ActivityQuery {
  for (const k of Object.keys(q)) {
    if (k !== 'type' && k !== 'minutes') throw bad(`unknown query parameter '${k}'; use type, minutes.`);
  }
  const m = single(q, 'minutes') ?? '60';
  const minutes = Number(m);
  if (!Number.isInteger(minutes) || minutes < 1 || minutes > 7 * 24 * 60)
    throw bad(`'minutes' must be an integer from 1 to 10080, got '${m}'.`);
  const bucketMs = Math.ceil(minutes / ACTIVITY_BARS) * MINUTE;
  const buckets = Math.ceil((minutes * MINUTE) / bucketMs);
  const from = (Math.floor(now / bucketMs) - (buckets - 1)) * bucketMs;
  const type = single(q, 'type');
  return { from, bucketMs, buckets, ...(type !== undefined ? { type } : {}) };
}
