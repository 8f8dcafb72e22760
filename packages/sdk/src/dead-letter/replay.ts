import { REPLAY_HEADER, headerString, type KafkaHeaders } from '@troupe/core';
import type { InboundMessage, OutboundRecord } from '../transport/transport.js';
import { originalHeaders, readDeadLetter } from './dead-letter.js';

/** Who replays, and to which consumer group. */
export interface ReplayBy {
  /** The consumer group that handles the replayed event; every other group skips it. */
  readonly group: string;
  /** Who asked for it (an operator, a tool run), for the replay note. */
  readonly by: string;
  /** ISO-8601 time of the replay. */
  readonly at: string;
}

/** What a replay note in a dead-letter topic records: which dead letter went back to which group, by whom, when. */
export interface ReplayNote extends ReplayBy {
  /** `<partition>/<offset>` of the dead letter in its dead-letter topic. */
  readonly of: string;
}

/** The consumer group a replayed event is addressed to; undefined for an event that is not a replay. */
export function replayTargetOf(headers: KafkaHeaders): string | undefined {
  return headerString(headers, REPLAY_HEADER.group);
}

/** The replay note of a dead-letter-topic record, or undefined for anything else (a dead letter). */
export function readReplayNote(headers: KafkaHeaders): ReplayNote | undefined {
  const of = headerString(headers, REPLAY_HEADER.of);
  const group = headerString(headers, REPLAY_HEADER.group);
  if (of === undefined || group === undefined) return undefined;
  return { of, group, by: headerString(headers, REPLAY_HEADER.by) ?? '', at: headerString(headers, REPLAY_HEADER.at) ?? '' };
}

/**
 * The two records of one replay (ADR 0012): the original event again on its original topic and
 * partition, addressed to one group (`troupe_replay_group`), and the replay note next to the dead
 * letter (same dead-letter partition, key = saga id) recording who replayed it, when and to whom.
 * The note carries the event's CloudEvents headers so readers of the dead-letter topic can place it
 * in its saga; it has no payload and no dead-letter reason, so it is never taken for a dead letter.
 */
export function replayRecords(
  deadLetter: InboundMessage,
  who: ReplayBy,
): { readonly event: OutboundRecord; readonly note: OutboundRecord } | undefined {
  const info = readDeadLetter(deadLetter.headers);
  if (!info) return undefined;
  const of = `${deadLetter.partition}/${deadLetter.offset}`;
  const replay = { [REPLAY_HEADER.group]: who.group, [REPLAY_HEADER.by]: who.by, [REPLAY_HEADER.at]: who.at };
  const original = originalHeaders(deadLetter);
  return {
    event: {
      topic: info.originalTopic,
      key: deadLetter.key,
      value: deadLetter.value,
      headers: { ...original, ...replay, [REPLAY_HEADER.from]: `${deadLetter.topic}/${of}` },
      ...(info.originalPartition >= 0 ? { partition: info.originalPartition } : {}),
    },
    note: {
      topic: deadLetter.topic,
      key: deadLetter.key,
      value: null,
      headers: { ...original, ...replay, [REPLAY_HEADER.of]: of },
      partition: deadLetter.partition,
    },
  };
}
