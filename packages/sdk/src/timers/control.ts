import { randomUUID } from 'node:crypto';
import { controlTopicOf, headerString, type KafkaHeaders } from '@troupe/core';
import { SdkError } from '../errors.js';
import { partitionForKey } from '../transport/murmur2.js';
import type { InboundMessage, OutboundRecord, Transport } from '../transport/transport.js';
import { ABORT_HEADER } from './abort.js';

/**
 * A saga type's control topic (`<saga>.control`): operators' requests to its initiator (abort) and
 * the initiator's answers, keyed by saga id and co-partitioned with the saga's topics, so the
 * request reaches the worker that holds the saga's timers. Its records are no events (no CloudEvents
 * headers): the tracker and other participants never see them.
 */
export { controlTopicOf } from '@troupe/core';

export const CONTROL_HEADER = {
  /** `abort-request` or `abort-reply`. */
  kind: 'troupe_control',
  /** Pairs a reply with its request. */
  id: 'troupe_control_id',
  /** Replies: `accepted` or `refused`. */
  status: 'troupe_control_status',
  /** Replies: what happened, for people. */
  message: 'troupe_control_message',
} as const;

export interface AbortRequest {
  readonly id: string;
  readonly sagaId: string;
  readonly reason: string;
  readonly by: string;
}

/** The initiator's answer to an abort request. */
export interface AbortReply {
  readonly status: 'accepted' | 'refused';
  readonly message: string;
}

export function readAbortRequest(m: Pick<InboundMessage, 'key' | 'headers'>): AbortRequest | undefined {
  if (headerString(m.headers, CONTROL_HEADER.kind) !== 'abort-request' || m.key === null) return undefined;
  return {
    id: headerString(m.headers, CONTROL_HEADER.id) ?? '',
    sagaId: m.key.toString(),
    reason: headerString(m.headers, ABORT_HEADER.reason) ?? 'aborted by an operator',
    by: headerString(m.headers, ABORT_HEADER.by) ?? 'operator',
  };
}

export function abortReplyRecord(topic: string, partition: number, request: AbortRequest, reply: AbortReply): OutboundRecord {
  return {
    topic,
    partition,
    key: request.sagaId,
    value: Buffer.alloc(0),
    headers: {
      [CONTROL_HEADER.kind]: 'abort-reply',
      [CONTROL_HEADER.id]: request.id,
      [CONTROL_HEADER.status]: reply.status,
      [CONTROL_HEADER.message]: reply.message,
    },
  };
}

function readReply(headers: KafkaHeaders, id: string): AbortReply | undefined {
  if (headerString(headers, CONTROL_HEADER.kind) !== 'abort-reply' || headerString(headers, CONTROL_HEADER.id) !== id) return undefined;
  const status = headerString(headers, CONTROL_HEADER.status);
  return { status: status === 'accepted' ? 'accepted' : 'refused', message: headerString(headers, CONTROL_HEADER.message) ?? '' };
}

export interface RequestAbortOptions {
  readonly transport: Transport;
  /** Saga type, e.g. `order-fulfillment`: names the control topic. */
  readonly sagaType: string;
  readonly sagaId: string;
  /** Why, for the tracker and the abort event. */
  readonly reason: string;
  /** Who asks. @default 'operator' */
  readonly by?: string;
  /** How long to wait for the initiator's answer. @default 60_000 */
  readonly timeoutMs?: number;
  /** Pause between looks at the control topic. @default 500 */
  readonly pollMs?: number;
}

/**
 * Asks a saga's initiator to abort it (what `troupe-saga abort` does): the initiator emits the
 * contract's `end.aborted` event with the reason (the earlier steps compensate) and answers
 * `accepted`, or answers `refused` for a saga that is not running. Throws TIMEOUT when no answer
 * comes (the initiator is down, or runs without timers).
 */
export async function requestAbort(o: RequestAbortOptions): Promise<AbortReply> {
  const topic = controlTopicOf(o.sagaType);
  const count = (await o.transport.partitionCounts([topic])).get(topic);
  if (count === undefined) {
    throw new SdkError(
      'CONFIG_INVALID',
      `there is no control topic ${topic}: no initiator of saga type ${o.sagaType} has run with timers (check the saga type, ` +
        'and that the initiator passes its abort event in the timeouts option)',
    );
  }
  const partition = partitionForKey(o.sagaId, count);
  const before = await o.transport.readPartition(topic, partition, '0');
  const from = before.length > 0 ? String(BigInt(before[before.length - 1]?.offset ?? '0') + 1n) : '0';
  const request: AbortRequest = { id: randomUUID(), sagaId: o.sagaId, reason: o.reason, by: o.by ?? 'operator' };
  await o.transport.send([
    {
      topic,
      partition,
      key: o.sagaId,
      value: Buffer.alloc(0),
      headers: {
        [CONTROL_HEADER.kind]: 'abort-request',
        [CONTROL_HEADER.id]: request.id,
        [ABORT_HEADER.reason]: request.reason,
        [ABORT_HEADER.by]: request.by,
      },
    },
  ]);
  const deadline = Date.now() + (o.timeoutMs ?? 60_000);
  for (;;) {
    for (const r of await o.transport.readPartition(topic, partition, from)) {
      const reply = readReply(r.headers, request.id);
      if (reply) return reply;
    }
    if (Date.now() > deadline) {
      throw new SdkError(
        'TIMEOUT',
        `no answer to the abort request for saga ${o.sagaId} within ${o.timeoutMs ?? 60_000} ms: is the initiator of ${o.sagaType} running? ` +
          'The request stays in the topic and is answered when it starts.',
      );
    }
    await new Promise((resolve) => setTimeout(resolve, o.pollMs ?? 500));
  }
}
