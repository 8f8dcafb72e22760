import { inboxTopicOf, OptionChecks, retryTopicOf, timerTopicOf, type SagaContract } from '@troupe/core';
import type { EventCodec, EventType } from '@troupe/schema-registry';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { throwIfInvalid } from '../errors.js';
import {
  circuitBreakerSettings,
  DEFAULT_HANDLER_CONCURRENCY,
  DEFAULT_SAGA_CONCURRENCY,
  type CircuitBreakerOptions,
  type FlowDefaults,
} from '../flow/flow-options.js';
import type { HandlerDefinition } from './handlers.js';
import type { IdempotencyStore } from '../idempotency/idempotency-store.js';
import type { Inbox } from '../inbox/inbox.js';
import type { InboxOptions } from '../inbox/topic-inbox.js';
import { defaultDeadLetterTopic } from '../dead-letter/dead-letter.js';
import { retryPolicy, type RetryOptions, type RetryPolicy } from '../retry/retry-policy.js';
import type { RetryTopicOptions } from '../retry/retry-topic.js';
import type { KafkaTransportOptions } from '../transport/kafka/kafka-transport.js';
import type { DeliveryMode, Transport } from '../transport/transport.js';
import type { PostgresOutbox } from '../postgres/postgres-outbox.js';
import type { OutboxRelayOptions } from '../postgres/outbox-relay.js';
import type { TimeoutEvent } from '../timers/abort.js';
import { clockedContracts } from '../timers/saga-clock.js';
import { needsBranchState } from './branch-state.js';

export interface ParticipantOptions {
  /**
   * Participant (service) name: the `ce_source` of what it emits and the contracts' `participant`.
   * @default the owner of its steps, when they come from step descriptors of one participant
   */
  readonly name?: string;
  /**
   * Kafka brokers (`host:port`): the participant creates its own Kafka transport and closes it
   * on `close()`. Give `transport` instead to share one or to use the memory transport.
   */
  readonly brokers?: readonly string[];
  /** Client settings of the transport made from `brokers` (ssl, sasl, timeouts, ...). */
  readonly kafka?: Omit<KafkaTransportOptions, 'brokers'>;
  /** @default a KafkaTransport on `brokers`, owned by the participant */
  readonly transport?: Transport;
  /**
   * Schema registry URL: the participant creates its own client and closes it on `close()`.
   * @default the SCHEMA_REGISTRY_URL environment variable (see createSchemaRegistry)
   */
  readonly registryUrl?: string;
  /** @default a registry client on `registryUrl`, owned by the participant */
  readonly codec?: EventCodec;
  /** Handlers built with `on(...)` and `step(...)`. */
  readonly handlers: readonly HandlerDefinition[];
  /**
   * Saga contracts (a list, or codegen's `contracts` object): step definitions are checked against
   * them and roles derived from them.
   */
  readonly contracts?: readonly SagaContract[] | Readonly<Record<string, SagaContract>>;
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
  /**
   * Sagas of one partition batch handled at the same time. A saga's events are always handled one
   * after the other in their order; only different sagas run side by side.
   * @default 8
   */
  readonly sagaConcurrency?: number;
  /**
   * Bulkhead of every handler: attempts of one handler (or of one named `downstream`) running at
   * the same time in this participant, unless the handler sets its own `concurrency`.
   * @default 16
   */
  readonly handlerConcurrency?: number;
  /**
   * Circuit breaker of every handler unless it sets its own (or `circuitBreaker: false`): after
   * transient failures in a row (or a failure rate) its events wait — their partitions pause —
   * instead of using up retries, being dead-lettered and compensated. Off unless given (`{}` turns
   * it on with the defaults of {@link CircuitBreakerOptions}).
   */
  readonly circuitBreaker?: CircuitBreakerOptions;
  /** In-place retries; see {@link RetryOptions} for the defaults. */
  readonly retry?: RetryOptions;
  /**
   * Deadline of one handler attempt. On expiry the attempt counts as a transient failure (the
   * retry policy applies), whatever it returns later is ignored, and `ctx.signal` is aborted so the
   * handler can cancel its downstream call. A step may set its own (`step({ timeoutMs })`). The
   * partition number's worker waits meanwhile; fetching and heartbeats do not.
   * @default 30_000
   */
  readonly handlerTimeoutMs?: number;
  /**
   * After the in-place retries, move the event to a retry topic and try again later without
   * blocking the partition; later events of the same saga queue behind it (per-saga order kept),
   * other sagas flow. Off unless given; see {@link RetryTopicOptions}.
   */
  readonly retryTopic?: RetryTopicOptions;
  /**
   * Durable timers (`ctx.schedule`, saga deadlines at their initiator) on a compacted timer topic
   * co-partitioned with the saga topics; see docs/time.md. Off unless given, or unless the
   * participant initiates a saga whose contract acts on time (`onTimeout`).
   */
  readonly timers?: TimerOptions;
  /**
   * Payloads of the events this participant emits, as a saga's initiator, when a deadline or
   * step limit passes (`onTimeout` in the contract) or an operator aborts the saga
   * (`troupe-saga abort`): the contract's `end.aborted` event and, for `onTimeout: fail-step`,
   * the steps' failure events. Built with `timeoutEvent(OrderCancelled, (info) => ({ ... }))`.
   * Giving the abort event turns on timers (and operator aborts) for the sagas it initiates.
   * @default none
   */
  readonly timeouts?: readonly TimeoutEvent[];
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
  /**
   * Recognises input events handled before (same `ce_id`) and skips them: a duplicate is counted
   * in `troupe_duplicates_total`, logged at debug and never handled again. The default keeps the
   * inbox on the topic `<groupId>.inbox`, written in the batch's transaction (ADR 0011); give an
   * {@link Inbox} to keep it elsewhere (e.g. in the service's database), `false` for none.
   * With `outbox`, the inbox rows live in the outbox's database, written in each handler's
   * transaction, and no topic inbox is kept unless this is given.
   * @default {} (a topic inbox with the defaults of {@link InboxOptions}); false with `outbox`
   */
  readonly inbox?: false | InboxOptions | Inbox;
  /**
   * PostgreSQL-transactional handling (docs/outbox.md): every handler attempt runs in a database
   * transaction of this outbox that holds the event's inbox row, what the handler writes with
   * `ctx.tx`, and everything it emits (as outbox rows). The participant is not closing it.
   */
  readonly outbox?: PostgresOutbox;
  /**
   * With `outbox`: run an outbox relay in this process on the participant's transport (`true` or
   * its settings), or not (`false`: a standalone `troupe-outbox relay` publishes).
   * @default true
   */
  readonly relay?: boolean | Omit<OutboxRelayOptions, 'outbox' | 'transport'>;
  /**
   * Partition count and replication factor of topics the participant creates (saga, retry,
   * dead-letter and inbox topics that do not exist yet). Without `replicationFactor` the broker's
   * `default.replication.factor` and `min.insync.replicas` apply; with it, `min.insync.replicas`
   * is set to `max(1, replicationFactor - 1)`. See docs/participants.md "Topics Troupe creates".
   * @default { partitions: 3, replicationFactor: the broker's default }
   */
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

/** Durable timers of a participant. */
export interface TimerOptions {
  /**
   * Timer topic (compacted, one record per pending timer).
   * @default `${groupId}.timers`
   */
  readonly topic?: string;
  /**
   * Timers fired per transaction when many fall due at once.
   * @default 100
   */
  readonly maxFiredPerBatch?: number;
  /**
   * How long after the initiator timed a saga out (or aborted it) a step completion of it is
   * recognised as late: not applied, and that step asked to compensate. Later ones are not
   * recognised (the initiator forgets the saga), so keep it above the longest answer delay.
   * @default 86_400_000 (24 h)
   */
  readonly lateAnswerWindowMs?: number;
}

export interface NormalizedOptions {
  readonly name: string;
  readonly groupId: string;
  readonly delivery: DeliveryMode;
  readonly maxBatchSize: number;
  readonly maxBatchMs: number;
  readonly concurrency: number;
  readonly flow: FlowDefaults;
  readonly retry: RetryPolicy;
  readonly handlerTimeoutMs: number;
  readonly retryTopic: { readonly topic: string; readonly delayMs: number; readonly attempts: number } | undefined;
  readonly timers: { readonly topic: string; readonly maxFiredPerBatch: number; readonly lateAnswerWindowMs: number } | undefined;
  readonly deadLetterTopic: (topic: string) => string;
  readonly partitions: number;
  readonly replicationFactor: number | undefined;
  readonly fromBeginning: boolean;
  readonly contracts: readonly SagaContract[];
  readonly events: readonly EventType[];
  readonly inbox: false | Inbox | { readonly topic: string; readonly window: number; readonly retentionMs: number };
}

const isInbox = (x: false | InboxOptions | Inbox): x is Inbox => x !== false && typeof (x as Partial<Inbox>).open === 'function';

/** The owner its descriptor-built steps name, when they name exactly one. */
function ownerOfSteps(handlers: readonly HandlerDefinition[]): string | undefined {
  const owners = new Set(
    (Array.isArray(handlers) ? handlers : []).map((h) => (h as { participant?: string }).participant).filter((p) => p !== undefined),
  );
  return owners.size === 1 ? [...owners][0] : undefined;
}

/** Applies the defaults and refuses impossible settings, naming each problem. */
export function normalizeOptions(opts: ParticipantOptions): NormalizedOptions {
  const check = new OptionChecks();
  const name = opts.name ?? ownerOfSteps(opts.handlers) ?? '';
  check.matches('name', name, /^[A-Za-z0-9._-]+$/, "a non-empty string of letters, digits, '.', '_' or '-'");
  if (!opts.transport && !opts.brokers)
    check.add("transport or brokers is required (brokers: ['host:port'], or MemoryTransport.create() for tests)");
  if (!Array.isArray(opts.handlers) || opts.handlers.length === 0) check.add('handlers must list at least one on(...) or step(...)');
  const contracts = opts.contracts ?? [];
  const contractList = Array.isArray(contracts) ? contracts : Object.values(contracts);
  // An initiator whose contracts act on time (or that can abort them) needs timers.
  // So does a participant keeping parallel-group state (joins, branch logs: ADR 0017).
  const branchState = needsBranchState(name, contractList);
  const timers = opts.timers ?? (clockedContracts(name, contractList, opts.timeouts ?? []).length > 0 || branchState ? {} : undefined);
  if (opts.outbox && branchState) {
    check.add(
      `${name} joins or compensates branches of a parallel group, whose state must commit in the Kafka transaction of the saga's partition; ` +
        'outbox rows are published later — run this participant without outbox (ADR 0017)',
    );
  } else if (opts.outbox && timers !== undefined) {
    // Timer records must commit in the Kafka transaction of the partition that owns the saga; outbox rows are published later.
    check.add(
      'timers (ctx.schedule, saga deadlines and aborts at the initiator) cannot be combined with outbox yet; ' +
        'run them in a Kafka-transactional participant of the same saga (docs/time.md)',
    );
  }
  const n: NormalizedOptions = {
    name,
    groupId: opts.groupId ?? name,
    delivery: check.oneOf('delivery', opts.delivery ?? 'exactly-once', ['exactly-once', 'at-least-once']),
    maxBatchSize: check.int('maxBatchSize', opts.maxBatchSize ?? 100),
    maxBatchMs: check.int('maxBatchMs', opts.maxBatchMs ?? 500),
    concurrency: check.int('concurrency', opts.concurrency ?? 4),
    flow: {
      sagaConcurrency: check.int('sagaConcurrency', opts.sagaConcurrency ?? DEFAULT_SAGA_CONCURRENCY),
      handlerConcurrency: check.int('handlerConcurrency', opts.handlerConcurrency ?? DEFAULT_HANDLER_CONCURRENCY),
      circuitBreaker: opts.circuitBreaker ? circuitBreakerSettings('circuitBreaker', opts.circuitBreaker, check) : undefined,
      retryAttempts: opts.retry?.attempts ?? 3,
      retryTopic: opts.retryTopic !== undefined,
    },
    retry: retryPolicy(opts.retry, check),
    handlerTimeoutMs: check.int('handlerTimeoutMs', opts.handlerTimeoutMs ?? 30_000),
    retryTopic:
      opts.retryTopic === undefined
        ? undefined
        : {
            topic: opts.retryTopic.topic ?? retryTopicOf(opts.groupId ?? name),
            delayMs: check.number('retryTopic.delayMs', opts.retryTopic.delayMs ?? 5000),
            attempts: check.int('retryTopic.attempts', opts.retryTopic.attempts ?? 3),
          },
    timers:
      timers === undefined
        ? undefined
        : {
            topic: timers.topic ?? timerTopicOf(opts.groupId ?? name),
            maxFiredPerBatch: check.int('timers.maxFiredPerBatch', timers.maxFiredPerBatch ?? 100),
            lateAnswerWindowMs: check.int('timers.lateAnswerWindowMs', timers.lateAnswerWindowMs ?? 86_400_000),
          },
    deadLetterTopic: opts.deadLetterTopic ?? defaultDeadLetterTopic,
    partitions: check.int('topics.partitions', opts.topics?.partitions ?? 3),
    replicationFactor:
      opts.topics?.replicationFactor === undefined ? undefined : check.int('topics.replicationFactor', opts.topics.replicationFactor),
    fromBeginning: opts.fromBeginning ?? true,
    contracts: Array.isArray(contracts) ? contracts : Object.values(contracts),
    events: opts.events ?? [],
    // With an outbox the inbox rows are written in each handler's database transaction instead.
    inbox: normalizeInbox(opts.inbox ?? (opts.outbox ? false : {}), opts.groupId ?? name, check),
  };
  throwIfInvalid(check, `participant ${name || '(unnamed)'}`);
  return n;
}

function normalizeInbox(inbox: false | InboxOptions | Inbox, groupId: string, check: OptionChecks): NormalizedOptions['inbox'] {
  if (inbox === false || isInbox(inbox)) return inbox;
  return {
    topic: inbox.topic ?? inboxTopicOf(groupId),
    window: check.int('inbox.window', inbox.window ?? 20_000),
    retentionMs: check.int('inbox.retentionMs', inbox.retentionMs ?? 7 * 24 * 3600_000),
  };
}
