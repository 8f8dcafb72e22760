import { headerString } from '@troupe/core';
import type { InboundMessage, OutboundRecord } from '../transport/transport.js';

/** Non-blocking retries through a per-participant retry topic, keeping per-saga order. */
export interface RetryTopicOptions {
  /**
   * Delay before the first retry from the topic; it doubles for each further pass.
   * @default 5000
   */
  readonly delayMs?: number;
  /**
   * Passes through the retry topic before the event is dead-lettered (each pass runs the in-place
   * retries again).
   * @default 3
   */
  readonly attempts?: number;
  /**
   * Topic name.
   * @default `${groupId}.retry`
   */
  readonly topic?: string;
}

export const RETRY_HEADER = {
  attempt: 'troupe_retry_attempt',
  due: 'troupe_retry_due',
  routes: 'troupe_retry_routes',
  topic: 'troupe_retry_topic',
  partition: 'troupe_retry_partition',
  offset: 'troupe_retry_offset',
} as const;

export interface RetryInfo {
  /** 0 for an event that waits behind an earlier one of its saga; n ≥ 1 for the n-th retry pass. */
  readonly attempt: number;
  readonly dueAt: number;
  /** Handler labels to run; undefined = all handlers of the event type. */
  readonly routes: readonly string[] | undefined;
  readonly origin: { readonly topic: string; readonly partition: number; readonly offset: string };
}

/** A retry-topic record for `message` (which may itself come from the retry topic). */
export function retryRecord(args: {
  readonly message: InboundMessage;
  readonly retryTopic: string;
  readonly attempt: number;
  readonly dueAt: number;
  readonly routes?: readonly string[];
}): OutboundRecord {
  const { message } = args;
  const headers: Record<string, string | Buffer> = {};
  for (const [k, v] of Object.entries(message.headers)) {
    const first = Array.isArray(v) ? v[0] : v;
    if (first !== undefined && !k.startsWith('troupe_retry_')) headers[k] = first;
  }
  headers[RETRY_HEADER.attempt] = String(args.attempt);
  headers[RETRY_HEADER.due] = String(args.dueAt);
  if (args.routes) headers[RETRY_HEADER.routes] = args.routes.join(',');
  headers[RETRY_HEADER.topic] = message.topic;
  headers[RETRY_HEADER.partition] = String(message.partition);
  headers[RETRY_HEADER.offset] = message.offset;
  // Same partition number as the original: the retry topic is co-partitioned with the saga topics.
  return { topic: args.retryTopic, key: message.key, value: message.value, headers, partition: message.partition };
}

export function readRetryInfo(message: InboundMessage): RetryInfo | undefined {
  const attempt = headerString(message.headers, RETRY_HEADER.attempt);
  const topic = headerString(message.headers, RETRY_HEADER.topic);
  if (attempt === undefined || topic === undefined) return undefined;
  const routes = headerString(message.headers, RETRY_HEADER.routes);
  return {
    attempt: Number(attempt),
    dueAt: Number(headerString(message.headers, RETRY_HEADER.due) ?? '0'),
    routes: routes === undefined ? undefined : routes.split(','),
    origin: {
      topic,
      partition: Number(headerString(message.headers, RETRY_HEADER.partition) ?? message.partition),
      offset: headerString(message.headers, RETRY_HEADER.offset) ?? '',
    },
  };
}

/** The original event behind a retry record: its coordinates and headers without the retry ones. */
export function originalOf(message: InboundMessage, info: RetryInfo): InboundMessage {
  const headers = Object.fromEntries(Object.entries(message.headers).filter(([k]) => !k.startsWith('troupe_retry_')));
  return { ...message, topic: info.origin.topic, partition: info.origin.partition, offset: info.origin.offset, headers };
}
