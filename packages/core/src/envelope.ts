/**
 * CloudEvents 1.0 in Kafka binary mode, plus Troupe's saga extensions. Header names are the wire
 * contract between the SDK (which writes them) and the tracker (which reads them).
 */
export const HEADER = {
  specversion: 'ce_specversion',
  id: 'ce_id',
  source: 'ce_source',
  type: 'ce_type',
  time: 'ce_time',
  contentType: 'content-type',
  sagaId: 'ce_sagaid',
  sagaType: 'ce_sagatype',
  sagaVersion: 'ce_sagaversion',
  sagaStep: 'ce_sagastep',
  sagaRole: 'ce_sagarole',
  causationId: 'ce_causationid',
  traceparent: 'traceparent',
} as const;

/**
 * Headers a participant adds when it dead-letters a record (the original headers stay as they
 * were). The SDK writes them; the tracker and `troupe-dlq` read them.
 */
export const DLQ_HEADER = {
  reason: 'troupe_dlq_reason',
  error: 'troupe_dlq_error',
  attempts: 'troupe_dlq_attempts',
  topic: 'troupe_dlq_topic',
  partition: 'troupe_dlq_partition',
  offset: 'troupe_dlq_offset',
  participant: 'troupe_dlq_participant',
  time: 'troupe_dlq_time',
  /** Consumer group of the participant that gave up: the one a replay goes to. */
  group: 'troupe_dlq_group',
  /** The failure event type emitted with the dead letter (the saga then fails and compensates). */
  failure: 'troupe_dlq_failure',
  /**
   * What the dead letter means for the saga at the participant that wrote it: `failed` (it fails and
   * compensates; replays are refused), `dead` (its later forward events are dead-lettered behind
   * it), `unchanged` (only this record). Participants rebuild their dead-saga set from it (ADR 0012).
   */
  sagaState: 'troupe_dlq_saga_state',
} as const;

/**
 * Headers of a dead-letter replay (ADR 0012). On the replayed event: `group` names the only
 * consumer group that handles it (every other group skips it). On the replay note that
 * `troupe-dlq replay` appends to the dead-letter topic next to the dead letter: who replayed it,
 * when, which dead letter (`of`: partition/offset in the dead-letter topic), to which group.
 */
export const REPLAY_HEADER = {
  group: 'troupe_replay_group',
  of: 'troupe_replay_of',
  by: 'troupe_replay_by',
  at: 'troupe_replay_at',
  from: 'troupe_replayed_from',
} as const;

/**
 * Headers of an event the SDK emitted because time ran out or an operator aborted the saga (docs/time.md):
 * on the contract's `end.aborted` event (onTimeout: abort, `troupe-saga abort`, late answers) or on
 * the awaited step's failure event (onTimeout: fail-step). The SDK writes them; the tracker shows
 * them as who aborted the saga and why.
 */
export const ABORT_HEADER = {
  /** `deadline`, `within`, `operator` or `late` (see {@link AbortCause}). */
  cause: 'troupe_abort_cause',
  /** The step that was awaited (or, for `late`, the step whose late completion is undone). */
  step: 'troupe_abort_step',
  reason: 'troupe_abort_reason',
  /** Who aborted: the initiator's name, or the operator's (`troupe-saga abort --by`). */
  by: 'troupe_abort_by',
} as const;

export const ABORT_CAUSES = ['deadline', 'within', 'operator', 'late'] as const;

/**
 * Why a saga was aborted (or a step failed) by the SDK:
 * - `deadline`: the contract's saga deadline passed;
 * - `within`: the awaited step's `within` passed;
 * - `operator`: `troupe-saga abort` (or `requestAbort`);
 * - `late`: a step completed after the saga had timed out; only that step compensates.
 */
export type AbortCause = (typeof ABORT_CAUSES)[number];

/** Who aborted a saga and why, as the abort headers of one event say. */
export interface AbortHeaders {
  readonly cause: AbortCause;
  readonly step?: string;
  readonly reason?: string;
  readonly by?: string;
}

/** The abort headers of an event, if the SDK emitted it for a timeout or an abort. */
export function readAbort(headers: KafkaHeaders | undefined): AbortHeaders | undefined {
  const cause = headerString(headers, ABORT_HEADER.cause);
  if (cause === undefined || !(ABORT_CAUSES as readonly string[]).includes(cause)) return undefined;
  const step = headerString(headers, ABORT_HEADER.step);
  const reason = headerString(headers, ABORT_HEADER.reason);
  const by = headerString(headers, ABORT_HEADER.by);
  return {
    cause: cause as AbortCause,
    ...(step !== undefined && step !== '' ? { step } : {}),
    ...(reason !== undefined ? { reason } : {}),
    ...(by !== undefined ? { by } : {}),
  };
}

/**
 * Records with this header are markers (e.g. the test harness's end-of-topic markers), not events:
 * participants and the tracker skip them.
 */
export const MARKER_HEADER = 'troupe_marker';

export const SAGA_ROLES = ['start', 'step-completed', 'step-failed', 'compensated', 'compensation-failed', 'end'] as const;
export type SagaRole = (typeof SAGA_ROLES)[number];

export const AVRO_CONTENT_TYPE = 'application/vnd.apache.avro+binary';

/** The metadata of one event, as carried in its Kafka headers. */
export interface EventEnvelope {
  readonly id: string;
  readonly source: string;
  readonly type: string;
  /** ISO-8601 timestamp. */
  readonly time: string;
  readonly sagaId: string;
  readonly sagaType: string;
  /**
   * Version of the saga's contract, stamped by the initiator on the start event and carried by
   * every later event of the saga; absent means version 1 (sagas started before versions).
   */
  readonly sagaVersion?: number;
  readonly sagaRole: SagaRole;
  /** Step name from the contract; absent for start and end events. */
  readonly sagaStep?: string;
  /** `ce_id` of the event whose handling produced this one; absent for a saga's start. */
  readonly causationId?: string;
  readonly traceparent?: string;
}

export type KafkaHeaders = Record<string, Buffer | string | undefined | (Buffer | string)[]>;

/** Problems found by {@link parseEnvelope}; empty when the headers are a valid envelope. */
export class EnvelopeError extends Error {
  override readonly name = 'EnvelopeError';
  constructor(readonly problems: readonly string[]) {
    super(`malformed event headers: ${problems.join('; ')}`);
  }
}

export function toHeaders(env: EventEnvelope): Record<string, string> {
  const h: Record<string, string> = {
    [HEADER.specversion]: '1.0',
    [HEADER.id]: env.id,
    [HEADER.source]: env.source,
    [HEADER.type]: env.type,
    [HEADER.time]: env.time,
    [HEADER.contentType]: AVRO_CONTENT_TYPE,
    [HEADER.sagaId]: env.sagaId,
    [HEADER.sagaType]: env.sagaType,
    [HEADER.sagaRole]: env.sagaRole,
  };
  if (env.sagaVersion !== undefined) h[HEADER.sagaVersion] = String(env.sagaVersion);
  if (env.sagaStep !== undefined) h[HEADER.sagaStep] = env.sagaStep;
  if (env.causationId !== undefined) h[HEADER.causationId] = env.causationId;
  if (env.traceparent !== undefined) h[HEADER.traceparent] = env.traceparent;
  return h;
}

export function headerString(headers: KafkaHeaders | undefined, name: string): string | undefined {
  const v = headers?.[name];
  const first = Array.isArray(v) ? v[0] : v;
  if (first === undefined) return undefined;
  return typeof first === 'string' ? first : first.toString('utf8');
}

/** Reads an envelope from Kafka headers; throws {@link EnvelopeError} naming every missing or bad header. */
export function parseEnvelope(headers: KafkaHeaders | undefined): EventEnvelope {
  const problems: string[] = [];
  const req = (name: string): string => {
    const v = headerString(headers, name);
    if (v === undefined || v === '') problems.push(`missing header ${name}`);
    return v ?? '';
  };
  const spec = req(HEADER.specversion);
  if (spec !== '' && spec !== '1.0') problems.push(`${HEADER.specversion} is '${spec}', expected '1.0'`);
  const id = req(HEADER.id);
  const source = req(HEADER.source);
  const type = req(HEADER.type);
  const time = req(HEADER.time);
  if (time !== '' && Number.isNaN(Date.parse(time))) problems.push(`${HEADER.time} '${time}' is not an ISO-8601 timestamp`);
  const sagaId = req(HEADER.sagaId);
  const sagaType = req(HEADER.sagaType);
  const role = req(HEADER.sagaRole);
  if (role !== '' && !(SAGA_ROLES as readonly string[]).includes(role)) {
    problems.push(`${HEADER.sagaRole} '${role}' is not one of ${SAGA_ROLES.join(', ')}`);
  }
  const versionText = headerString(headers, HEADER.sagaVersion);
  const sagaVersion = versionText === undefined ? undefined : Number(versionText);
  if (sagaVersion !== undefined && !(Number.isInteger(sagaVersion) && sagaVersion >= 1)) {
    problems.push(`${HEADER.sagaVersion} '${versionText ?? ''}' is not a positive integer`);
  }
  if (problems.length > 0) throw new EnvelopeError(problems);
  const env: EventEnvelope = {
    id,
    source,
    type,
    time,
    sagaId,
    sagaType,
    ...(sagaVersion !== undefined ? { sagaVersion } : {}),
    sagaRole: role as SagaRole,
  };
  const step = headerString(headers, HEADER.sagaStep);
  const causationId = headerString(headers, HEADER.causationId);
  const traceparent = headerString(headers, HEADER.traceparent);
  return {
    ...env,
    ...(step !== undefined ? { sagaStep: step } : {}),
    ...(causationId !== undefined ? { causationId } : {}),
    ...(traceparent !== undefined ? { traceparent } : {}),
  };
}
