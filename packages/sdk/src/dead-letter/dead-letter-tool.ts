import { HEADER, headerString } from '@troupe/core';
import { readTopicToEnd } from '@troupe/kafka';
import { rethrowAccess } from '../transport/kafka/access-errors.js';
import { toTopicMessages } from '../transport/kafka/kafka-consumer-loop.js';
import type { KafkaTransport } from '../transport/kafka/kafka-transport.js';
import type { InboundMessage, OutboundRecord } from '../transport/transport.js';
import { readDeadLetter, type DeadLetterInfo } from './dead-letter.js';
import { readReplayNote, replayRecords, type ReplayNote } from './replay.js';

/** One dead letter as the `troupe-dlq` tool shows it. */
export interface DeadLetterEntry {
  readonly partition: number;
  readonly offset: string;
  readonly sagaId: string | undefined;
  readonly type: string | undefined;
  readonly eventId: string | undefined;
  readonly info: DeadLetterInfo;
  /** Replays of this dead letter recorded so far (who, when, to which group), oldest first. */
  readonly replays: readonly ReplayNote[];
  readonly message: InboundMessage;
}

export interface DeadLetterFilter {
  readonly reason?: string;
  readonly sagaId?: string;
  readonly partition?: number;
  readonly offset?: string;
  /** Only dead letters of this consumer group (older dead letters: of the participant of that name). */
  readonly group?: string;
}

/** Lists the dead letters of a DLQ topic with their recorded replays, optionally filtered. */
export async function listDeadLetters(transport: KafkaTransport, topic: string, filter: DeadLetterFilter = {}): Promise<DeadLetterEntry[]> {
  const records = await readTopicToEnd(transport.kafka, topic);
  const notes = new Map<string, ReplayNote[]>();
  for (const m of records) {
    const note = readReplayNote(m.headers);
    if (note) notes.set(note.of, [...(notes.get(note.of) ?? []), note]);
  }
  const entries: DeadLetterEntry[] = [];
  for (const m of records) {
    const info = readDeadLetter(m.headers);
    if (!info) continue;
    const entry: DeadLetterEntry = {
      partition: m.partition,
      offset: m.offset,
      sagaId: headerString(m.headers, HEADER.sagaId),
      type: headerString(m.headers, HEADER.type),
      eventId: headerString(m.headers, HEADER.id),
      info,
      replays: notes.get(`${m.partition}/${m.offset}`) ?? [],
      message: m,
    };
    if (filter.reason !== undefined && info.reason !== filter.reason) continue;
    if (filter.sagaId !== undefined && entry.sagaId !== filter.sagaId) continue;
    if (filter.partition !== undefined && m.partition !== filter.partition) continue;
    if (filter.offset !== undefined && m.offset !== filter.offset) continue;
    if (filter.group !== undefined && info.group !== filter.group) continue;
    entries.push(entry);
  }
  return entries;
}

export interface ReplayOptions extends DeadLetterFilter {
  /** Show what would happen, send nothing. */
  readonly dryRun?: boolean;
  /** Replay dead letters that were replayed before too (the participant's inbox drops what it handled). */
  readonly again?: boolean;
  /** Who replays, for the replay note. @default `$USER@$HOSTNAME` */
  readonly by?: string;
  /**
   * More topics of the saga to look for its failure in (the dead letter's own topic is always
   * read): a saga with a failure, compensation or compensation failure there is refused.
   */
  readonly sagaTopics?: readonly string[];
}

/** What `troupe-dlq replay` did with each selected dead letter, and why. */
export interface ReplayResult {
  /** Sent back to their topic, addressed to their group, and recorded in the dead-letter topic. */
  readonly replayed: readonly DeadLetterEntry[];
  /** Not sent: the saga already failed and compensates. */
  readonly refused: readonly { readonly entry: DeadLetterEntry; readonly reason: string }[];
  /** Not sent: replayed before (pass `again`), or no saga or group to address it to. */
  readonly skipped: readonly { readonly entry: DeadLetterEntry; readonly reason: string }[];
}

const FAILED_ROLES = new Set(['step-failed', 'compensated', 'compensation-failed']);

/**
 * Replays dead letters (ADR 0012): each goes back to its original topic and partition with its
 * `ce_id`, addressed to the consumer group that gave up on it (`troupe_replay_group`; every other
 * group skips it), and a replay note next to the dead letter records who, when and to whom. A dead
 * letter of a saga that already failed (its failure went out with a dead letter, or a failure,
 * compensation or compensation failure of it is on its topics) is refused; one replayed before is
 * skipped unless `again`. Dead letters are sent in dead-letter-topic order, so a saga's events keep
 * their order.
 */
export async function replayDeadLetters(transport: KafkaTransport, topic: string, opts: ReplayOptions = {}): Promise<ReplayResult> {
  const all = await listDeadLetters(transport, topic, { ...(opts.group !== undefined ? { group: opts.group } : {}) });
  const selected = await listDeadLetters(transport, topic, opts);
  const failedSagas = await failuresOf(transport, all, selected, opts.sagaTopics ?? []);
  const replayed: DeadLetterEntry[] = [];
  const refused: { entry: DeadLetterEntry; reason: string }[] = [];
  const skipped: { entry: DeadLetterEntry; reason: string }[] = [];
  const records: { event: OutboundRecord; note: OutboundRecord }[] = [];
  const at = new Date().toISOString();
  const by = opts.by ?? defaultReplayer();
  for (const entry of selected) {
    const failure = entry.sagaId !== undefined ? failedSagas.get(entry.sagaId) : undefined;
    const last = entry.replays[entry.replays.length - 1];
    if (entry.sagaId === undefined || entry.info.group === '') {
      skipped.push({ entry, reason: 'no saga id or consumer group to address the replay to (malformed envelope?)' });
    } else if (failure !== undefined) {
      refused.push({ entry, reason: `saga ${entry.sagaId} already failed (${failure}) and compensates; start a new saga instead` });
    } else if (last !== undefined && opts.again !== true) {
      skipped.push({ entry, reason: `replayed before, at ${last.at} by ${last.by}; pass --again to replay it once more` });
    } else {
      const r = replayRecords(entry.message, { group: entry.info.group, by, at });
      if (r) records.push(r);
      replayed.push(entry);
    }
  }
  if (opts.dryRun !== true && records.length > 0) await sendReplays(transport, topic, records);
  return { replayed, refused, skipped };
}

/**
 * Each replay's event and note in one transaction (ADR 0012, amendment): a run that crashes or is
 * refused half-way leaves every dead letter either replayed and noted or untouched, never an event
 * without its note (replayed again by the next run; after a restart the participant would still
 * hold the saga as dead). The transactional id is the dead-letter topic's: a second replay of the
 * same topic running at the same time fences the first.
 */
async function sendReplays(
  transport: KafkaTransport,
  topic: string,
  records: readonly { readonly event: OutboundRecord; readonly note: OutboundRecord }[],
): Promise<void> {
  const transactionalId = replayTransactionalId(topic);
  const producer = transport.kafka.producer({ transactionalId, idempotent: true, maxInFlightRequests: 1 });
  try {
    await producer.connect();
    for (const r of records) {
      const tx = await producer.transaction();
      try {
        await tx.sendBatch({ topicMessages: toTopicMessages([r.event, r.note]) });
        await tx.commit();
      } catch (err) {
        if (tx.isActive()) await tx.abort().catch(() => undefined);
        throw err;
      }
    }
  } catch (err) {
    rethrowAccess(err, `replaying to ${topicsOf(records)} with transactional id ${transactionalId}`, transport.principal);
  } finally {
    await producer.disconnect().catch(() => undefined);
  }
}

/** The transactional id of `troupe-dlq replay` for a dead-letter topic (grant WRITE and DESCRIBE on it). */
export const replayTransactionalId = (deadLetterTopic: string): string => `troupe-dlq-replay.${deadLetterTopic}`;

const topicsOf = (records: readonly { readonly event: OutboundRecord; readonly note: OutboundRecord }[]): string =>
  [...new Set(records.flatMap((r) => [r.event.topic, r.note.topic]))].join(', ');

/** Saga id → what shows it failed: a dead letter sent with its failure, or a failure event on its topics. */
async function failuresOf(
  transport: KafkaTransport,
  all: readonly DeadLetterEntry[],
  selected: readonly DeadLetterEntry[],
  sagaTopics: readonly string[],
): Promise<Map<string, string>> {
  const failed = new Map<string, string>();
  for (const e of all) {
    if (e.sagaId === undefined) continue;
    if (e.info.failure !== undefined)
      failed.set(e.sagaId, `${e.info.participant} emitted ${e.info.failure} when it gave up on ${e.type ?? 'an event'}`);
    else if (e.info.sagaState === 'failed' || FAILED_ROLES.has(headerString(e.message.headers, HEADER.sagaRole) ?? ''))
      failed.set(e.sagaId, `${e.type ?? 'its failure'} was dead-lettered`);
  }
  const wanted = new Set(selected.map((e) => e.sagaId).filter((s): s is string => s !== undefined && !failed.has(s)));
  if (wanted.size === 0) return failed;
  // A saga's events share one partition number across its co-partitioned topics: read only those.
  const reads = new Map<string, Set<number>>();
  for (const e of selected) {
    if (e.sagaId === undefined || !wanted.has(e.sagaId)) continue;
    for (const t of [e.info.originalTopic, ...sagaTopics]) reads.set(t, (reads.get(t) ?? new Set()).add(e.info.originalPartition));
  }
  for (const [t, partitions] of reads) {
    for (const p of partitions) {
      for (const r of await transport.readPartition(t, p, '0')) {
        const saga = headerString(r.headers, HEADER.sagaId);
        const role = headerString(r.headers, HEADER.sagaRole) ?? '';
        if (saga !== undefined && wanted.has(saga) && FAILED_ROLES.has(role) && !failed.has(saga)) {
          failed.set(saga, `${headerString(r.headers, HEADER.type) ?? role} on ${t} from ${headerString(r.headers, HEADER.source) ?? '?'}`);
        }
      }
    }
  }
  return failed;
}

function defaultReplayer(): string {
  const user = process.env['USER'] ?? process.env['USERNAME'] ?? 'unknown';
  return `${user}@${process.env['HOSTNAME'] ?? 'localhost'}`;
}
