import { headerString } from '@troupe/core';
import { readDeadLetter, replayRecord, type DeadLetterInfo } from './dead-letter.js';
import type { KafkaTransport } from '../transport/kafka/kafka-transport.js';
import { readTopicToEnd } from '@troupe/kafka';
import type { InboundMessage, OutboundRecord } from '../transport/transport.js';

/** One dead letter as the `troupe-dlq` tool shows it. */
export interface DeadLetterEntry {
  readonly partition: number;
  readonly offset: string;
  readonly sagaId: string | undefined;
  readonly type: string | undefined;
  readonly eventId: string | undefined;
  readonly info: DeadLetterInfo;
  readonly message: InboundMessage;
}

export interface DeadLetterFilter {
  readonly reason?: string;
  readonly sagaId?: string;
  readonly partition?: number;
  readonly offset?: string;
}

/** Lists the dead letters of a DLQ topic, optionally filtered. */
export async function listDeadLetters(transport: KafkaTransport, topic: string, filter: DeadLetterFilter = {}): Promise<DeadLetterEntry[]> {
  const records = await readTopicToEnd(transport.kafka, topic);
  const entries: DeadLetterEntry[] = [];
  for (const m of records) {
    const info = readDeadLetter(m.headers);
    if (!info) continue;
    const entry: DeadLetterEntry = {
      partition: m.partition,
      offset: m.offset,
      sagaId: headerString(m.headers, 'ce_sagaid'),
      type: headerString(m.headers, 'ce_type'),
      eventId: headerString(m.headers, 'ce_id'),
      info,
      message: m,
    };
    if (filter.reason !== undefined && info.reason !== filter.reason) continue;
    if (filter.sagaId !== undefined && entry.sagaId !== filter.sagaId) continue;
    if (filter.partition !== undefined && m.partition !== filter.partition) continue;
    if (filter.offset !== undefined && m.offset !== filter.offset) continue;
    entries.push(entry);
  }
  return entries;
}

/**
 * Appends the selected dead letters to their original topics again (original key, value and
 * headers, plus `troupe_replayed_from`). The event keeps its `ce_id`, so `ctx.once` results stored
 * for it are reused. Returns what was (or, with `dryRun`, would be) replayed.
 */
export async function replayDeadLetters(
  transport: KafkaTransport,
  topic: string,
  filter: DeadLetterFilter & { readonly dryRun?: boolean } = {},
): Promise<DeadLetterEntry[]> {
  const entries = await listDeadLetters(transport, topic, filter);
  const records = entries.map((e) => replayRecord(e.message)).filter((r): r is OutboundRecord => r !== undefined);
  if (!filter.dryRun && records.length > 0) await transport.send(records);
  return entries;
}
