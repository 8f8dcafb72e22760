import type { SagaContract } from '@troupe/core';
import type { EventCodec, EventType } from '@troupe/schema-registry';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { SdkError } from '../errors.js';
import type { HandlerDefinition } from './handlers.js';
import type { IdempotencyStore } from '../idempotency/idempotency-store.js';
import { retryPolicy, type RetryOptions, type RetryPolicy } from '../retry/retry-policy.js';
import type { RetryTopicOptions } from '../retry/retry-topic.js';
import type { DeliveryMode, Transport } from '../transport/transport.js';

export interface ParticipantOptions {
  /** Participant (service) name: the `ce_source` of what it emits and the contracts' `participant`. */
  readonly name: string;
  readonly transport: Transport;
  readonly codec: EventCodec;
  /** Handlers built with `on(...)` and `step(...)`. */
  readonly handlers: readonly HandlerDefinition[];
  /** Saga contracts: step definitions are checked against them and roles derived from them. */
  readonly contracts?: readonly SagaContract[];
  /** Event types known to the service (codegen's list), to resolve contract names to topics. */
  readonly events?: readonly EventType[];
  /**
   * Consumer group.
   * @default name
   */
  readonly groupId?: string;
  /** @default 'exactly-once' */
  readonly delivery?: DeliveryMode;
  /**
   * Messages per transaction (one batch of one partition).
   * @default 100
   */
  readonly maxBatchSize?: number;
  /**
   * A batch is committed once its handlers took this long, even if it is not finished.
   * @default 500
   */
  readonly maxBatchMs?: number;
  /**
   * Partitions handled at the same time.
   * @default 4
   */
  readonly concurrency?: number;
  /** In-place retries; see {@link RetryOptions} for the defaults. */
  readonly retry?: RetryOptions;
  /**
   * After the in-place retries, move the event to a retry topic and try again later without
   * blocking the partition; later events of the same saga queue behind it (per-saga order kept),
   * other sagas flow. Off unless given; see {@link RetryTopicOptions}.
   */
  readonly retryTopic?: RetryTopicOptions;
  /**
   * Dead-letter topic of a source topic.
   * @default (topic) => `${topic}.dlq`
   */
  readonly deadLetterTopic?: (topic: string) => string;
  /**
   * Where `ctx.once` records results.
   * @default a new MemoryIdempotencyStore (not durable: use PostgresIdempotencyStore in production)
   */
  readonly idempotencyStore?: IdempotencyStore;
  /** Partition count and replication factor of topics the participant creates. */
  readonly topics?: { readonly partitions?: number; readonly replicationFactor?: number };
  /**
   * Where a new consumer group starts.
   * @default true (from the beginning: no event of a saga topic is skipped)
   */
  readonly fromBeginning?: boolean;
  /** @default pino at level 'info' named after the participant */
  readonly logger?: Logger;
  /**
   * Prometheus registry for the participant's metrics (series carry a `participant` label).
   * @default prom-client's global registry, so the service's existing `/metrics` shows them
   */
  readonly metricsRegistry?: Registry;
}

export interface NormalizedOptions {
  readonly name: string;
  readonly groupId: string;
  readonly delivery: DeliveryMode;
  readonly maxBatchSize: number;
  readonly maxBatchMs: number;
  readonly concurrency: number;
  readonly retry: RetryPolicy;
  readonly retryTopic: { readonly topic: string; readonly delayMs: number; readonly attempts: number } | undefined;
  readonly deadLetterTopic: (topic: string) => string;
  readonly partitions: number;
  readonly replicationFactor: number;
  readonly fromBeginning: boolean;
  readonly contracts: readonly SagaContract[];
  readonly events: readonly EventType[];
}

const positiveInt = (problems: string[], name: string, v: number): number => {
  if (!Number.isInteger(v) || v < 1) problems.push(`${name} must be an integer >= 1 (got ${v})`);
  return v;
};

const nonNegative = (problems: string[], name: string, v: number): number => {
  if (!(v >= 0)) problems.push(`${name} must be a number >= 0 (got ${v})`);
  return v;
};

/** Applies the defaults and refuses impossible settings, naming each problem. */
export function normalizeOptions(opts: ParticipantOptions): NormalizedOptions {
  const problems: string[] = [];
  if (typeof opts.name !== 'string' || !/^[A-Za-z0-9._-]+$/.test(opts.name)) {
    problems.push(`name must be a non-empty string of letters, digits, '.', '_' or '-' (got '${String(opts.name)}')`);
  }
  if (!opts.transport) problems.push('transport is required (MemoryTransport.create() or KafkaTransport.create({ brokers }))');
  if (!opts.codec) problems.push('codec is required (an EventCodec, e.g. a schema registry client)');
  if (!Array.isArray(opts.handlers) || opts.handlers.length === 0) problems.push('handlers must list at least one on(...) or step(...)');
  const delivery = opts.delivery ?? 'exactly-once';
  if (delivery !== 'exactly-once' && delivery !== 'at-least-once') {
    problems.push(`delivery must be 'exactly-once' or 'at-least-once' (got '${String(delivery)}')`);
  }
  const n: NormalizedOptions = {
    name: opts.name,
    groupId: opts.groupId ?? opts.name,
    delivery,
    maxBatchSize: positiveInt(problems, 'maxBatchSize', opts.maxBatchSize ?? 100),
    maxBatchMs: positiveInt(problems, 'maxBatchMs', opts.maxBatchMs ?? 500),
    concurrency: positiveInt(problems, 'concurrency', opts.concurrency ?? 4),
    retry: (() => {
      try {
        return retryPolicy(opts.retry);
      } catch (err) {
        problems.push((err as Error).message);
        return retryPolicy();
      }
    })(),
    retryTopic:
      opts.retryTopic === undefined
        ? undefined
        : {
            topic: opts.retryTopic.topic ?? `${opts.groupId ?? opts.name}.retry`,
            delayMs: nonNegative(problems, 'retryTopic.delayMs', opts.retryTopic.delayMs ?? 5000),
            attempts: positiveInt(problems, 'retryTopic.attempts', opts.retryTopic.attempts ?? 3),
          },
    deadLetterTopic: opts.deadLetterTopic ?? ((topic: string) => `${topic}.dlq`),
    partitions: positiveInt(problems, 'topics.partitions', opts.topics?.partitions ?? 3),
    replicationFactor: positiveInt(problems, 'topics.replicationFactor', opts.topics?.replicationFactor ?? 1),
    fromBeginning: opts.fromBeginning ?? true,
    contracts: opts.contracts ?? [],
    events: opts.events ?? [],
  };
  if (problems.length > 0) {
    throw new SdkError('CONFIG_INVALID', `participant ${String(opts.name)}: ${problems.join('; ')}`);
  }
  return n;
}
