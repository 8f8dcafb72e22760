import { DLQ_HEADER, EnvelopeError, REPLAY_HEADER, headerString, parseEnvelope, readAbort } from '@troupe/core';
import type { KafkaHeaders, SagaAttribute, SagaContract } from '@troupe/core';
import type { EventCodec } from '@troupe/schema-registry';
import type { DeadLetterInfo, TrackedEvent } from '../tracked-event.js';

/** A Kafka record as the tracker needs it (a subset of kafkajs' `KafkaMessage`). */
export interface RawRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly value: Buffer | null;
  readonly headers?: KafkaHeaders;
}

export interface ConvertOptions {
  readonly isDeadLetterTopic: (topic: string) => boolean;
  /** Reads `reason` from failure payloads that carry no reason header. @default none */
  readonly codec?: EventCodec;
  /** Payloads above this size are not kept for the detail view. @default 65536 */
  readonly maxPayloadBytes?: number;
  /** The attributes to read from an event's payload (needs `codec`); see {@link attributeLookup}. @default none */
  readonly attributesOf?: AttributeLookup;
}

/** The business attributes a saga type's contract takes from an event type's payload. */
export type AttributeLookup = (sagaType: string, eventType: string) => readonly SagaAttribute[];

const NO_ATTRIBUTES: readonly SagaAttribute[] = [];

/** An {@link AttributeLookup} over contracts, indexed once. */
export function attributeLookup(contracts: readonly SagaContract[]): AttributeLookup {
  const byKey = new Map<string, SagaAttribute[]>();
  for (const c of contracts) {
    for (const a of c.attributes ?? []) {
      const k = `${c.saga}\u0000${a.from}`;
      byKey.set(k, [...(byKey.get(k) ?? []), a]);
    }
  }
  return (sagaType, eventType) => byKey.get(`${sagaType}\u0000${eventType}`) ?? NO_ATTRIBUTES;
}

export type Converted = { readonly ok: true; readonly event: TrackedEvent } | { readonly ok: false; readonly reason: string };

/** Headers a failure event may carry its reason in, tried in order before the payload. */
const REASON_HEADERS = ['troupe_reason', 'ce_reason', 'reason'];
// Dead-letter headers are read defensively: the SDK's names first, then anything that looks right.
const DLQ_ERROR_HEADERS = [DLQ_HEADER.error, DLQ_HEADER.reason];
const DLQ_PARTICIPANT_HEADERS = [DLQ_HEADER.participant];
const ENVELOPE_HEADER = /^(ce_|content-type$|traceparent$|tracestate$)/;

/**
 * Turns a Kafka record into a {@link TrackedEvent} from its headers alone; the payload is decoded
 * only for a failure event without a reason header (to read its `reason` field), and only when a
 * codec is configured. Records without a saga envelope are rejected with a reason, never thrown.
 */
export async function toTrackedEvent(r: RawRecord, opts: ConvertOptions): Promise<Converted> {
  let env;
  try {
    env = parseEnvelope(r.headers);
  } catch (err) {
    if (err instanceof EnvelopeError) return { ok: false, reason: err.problems.join('; ') };
    throw err;
  }
  const deadLetter = opts.isDeadLetterTopic(r.topic) ? deadLetterInfo(r.topic, r.headers) : undefined;
  // The payload is decoded at most once, and only when a reason or an attribute is needed from it.
  let decoded: Promise<Record<string, unknown> | undefined> | undefined;
  const payload = (): Promise<Record<string, unknown> | undefined> => (decoded ??= decodePayload(r.value, opts.codec));
  // A dead-lettered copy keeps the original's headers; the abort is the original's fact, not the copy's.
  const abort = deadLetter === undefined ? readAbort(r.headers) : undefined;
  // A step failed on the step's behalf when its time ran out (onTimeout: fail-step) says why in the abort headers.
  let reason = firstHeader(r.headers, REASON_HEADERS) ?? (env.sagaRole === 'step-failed' ? abort?.reason : undefined);
  if (reason === undefined && deadLetter === undefined && (env.sagaRole === 'step-failed' || env.sagaRole === 'compensation-failed')) {
    reason = reasonOf(await payload());
  }
  const wanted = deadLetter === undefined ? (opts.attributesOf?.(env.sagaType, env.type) ?? NO_ATTRIBUTES) : NO_ATTRIBUTES;
  const attributes = wanted.length > 0 ? attributesOf(await payload(), wanted) : undefined;
  const max = opts.maxPayloadBytes ?? 65_536;
  const event: TrackedEvent = {
    id: env.id,
    type: env.type,
    source: env.source,
    time: env.time,
    sagaId: env.sagaId,
    sagaType: env.sagaType,
    ...(env.sagaVersion !== undefined ? { sagaVersion: env.sagaVersion } : {}),
    role: env.sagaRole,
    ...(env.sagaStep !== undefined ? { step: env.sagaStep } : {}),
    ...(env.causationId !== undefined ? { causationId: env.causationId } : {}),
    ...(env.traceparent !== undefined ? { traceparent: env.traceparent } : {}),
    topic: r.topic,
    partition: r.partition,
    offset: r.offset,
    ...(reason !== undefined ? { reason } : {}),
    ...(attributes !== undefined ? { attributes } : {}),
    ...(deadLetter !== undefined ? { deadLetter } : {}),
    ...(abort !== undefined ? { abort } : {}),
    ...(r.value !== null && r.value.length <= max ? { payload: r.value.toString('base64') } : {}),
  };
  return { ok: true, event };
}

function firstHeader(headers: KafkaHeaders | undefined, names: readonly string[]): string | undefined {
  for (const n of names) {
    const v = headerString(headers, n);
    if (v !== undefined && v !== '') return v;
  }
  return undefined;
}

function deadLetterInfo(topic: string, headers: KafkaHeaders | undefined): DeadLetterInfo {
  const extra: Record<string, string> = {};
  for (const k of Object.keys(headers ?? {})) {
    if (ENVELOPE_HEADER.test(k)) continue;
    const v = headerString(headers, k);
    if (v !== undefined) extra[k] = v;
  }
  const code = headerString(headers, DLQ_HEADER.reason);
  const message = headerString(headers, DLQ_HEADER.error);
  let reason: string | undefined =
    code !== undefined && message !== undefined && message !== '' ? `${code}: ${message}` : firstHeader(headers, DLQ_ERROR_HEADERS);
  reason ??= Object.entries(extra).find(([k]) => /error|exception|reason/i.test(k) && !/stack|class/i.test(k))?.[1];
  let participant = firstHeader(headers, DLQ_PARTICIPANT_HEADERS);
  participant ??= Object.entries(extra).find(([k]) => /participant|consumer|group/i.test(k))?.[1];
  const of = headerString(headers, REPLAY_HEADER.of);
  const replay =
    of === undefined
      ? undefined
      : {
          of,
          group: headerString(headers, REPLAY_HEADER.group) ?? '',
          by: headerString(headers, REPLAY_HEADER.by) ?? '',
          at: headerString(headers, REPLAY_HEADER.at) ?? '',
        };
  if (replay !== undefined) return { topic, participant: replay.group, headers: extra, replay };
  return {
    topic,
    ...(reason !== undefined ? { reason } : {}),
    ...(participant !== undefined ? { participant } : {}),
    headers: extra,
  };
}

async function decodePayload(value: Buffer | null, codec: EventCodec | undefined): Promise<Record<string, unknown> | undefined> {
  if (value === null || codec === undefined) return undefined;
  try {
    const { payload } = await codec.decode(value);
    return payload !== null && typeof payload === 'object' ? (payload as Record<string, unknown>) : undefined;
  } catch {
    // An undecodable payload leaves reason and attributes unknown; the header facts still count.
    return undefined;
  }
}

function reasonOf(p: Record<string, unknown> | undefined): string | undefined {
  if (p === undefined) return undefined;
  const reason = ['reason', 'error', 'message'].map((k) => p[k]).find((v): v is string => typeof v === 'string' && v !== '');
  // Schemas often pair a coded reason (an enum) with free text.
  const detail = typeof p['detail'] === 'string' && p['detail'] !== '' ? p['detail'] : undefined;
  if (reason !== undefined && detail !== undefined) return `${reason}: ${detail}`;
  return reason ?? detail;
}

/** Scalar values at the attributes' paths, as text; missing or null fields are left out. */
function attributesOf(p: Record<string, unknown> | undefined, wanted: readonly SagaAttribute[]): Record<string, string> | undefined {
  if (p === undefined) return undefined;
  const out: Record<string, string> = {};
  for (const a of wanted) {
    let v: unknown = p;
    for (const k of a.path) v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined;
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') out[a.name] = String(v);
  }
  return Object.keys(out).length > 0 ? out : undefined;
}
