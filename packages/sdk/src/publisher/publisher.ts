import { randomUUID } from 'node:crypto';
import { context } from '@opentelemetry/api';
import { pino } from 'pino';
import { OptionChecks, latestContract, toHeaders, type EventEnvelope, type SagaContract, type SagaRole } from '@troupe/core';
import { type EventCodec, type EventType } from '@troupe/schema-registry';
import { encodeOrThrow } from '../participant/encode.js';
import { SdkError, throwIfInvalid } from '../errors.js';
import { oversizedOutput, readOutputLimits } from '../participant/output-refusals.js';
import { roleInContracts } from '../participant/saga-roles.js';
import { ensureSagaTopics } from '../transport/topics.js';
import { contextFromTraceparent, endSpan, newTraceparent, outgoingTraceparent, startSendSpan } from '../operations/trace.js';
import type { Transport } from '../transport/transport.js';
import type { PostgresOutbox, TransactionClient } from '../postgres/postgres-outbox.js';

export interface PublisherOptions {
  readonly transport: Transport;
  readonly codec: EventCodec;
  /** The publishing service: `ce_source`. */
  readonly source: string;
  /** Contracts to derive saga type and role from (publishing a contract's start event starts a saga). */
  readonly contracts?: readonly SagaContract[];
  /**
   * Partition count and replication factor for topics that do not exist yet; without
   * `replicationFactor` the broker's default applies (docs/participants.md, "Topics Troupe creates").
   * @default { partitions: 3, replicationFactor: the broker's default }
   */
  readonly topics?: { readonly partitions?: number; readonly replicationFactor?: number };
  /**
   * The service's outbox: `publish(..., { tx })` writes the event into it inside the caller's
   * transaction instead of appending it to Kafka (an {@link OutboxRelay} publishes it after commit).
   */
  readonly outbox?: PostgresOutbox;
}

export interface PublishOptions {
  /** Saga instance id; also the message key. */
  readonly sagaId: string;
  /** @default the saga of the contract that declares this event type */
  readonly sagaType?: string;
  /** @default from the contract ('start' for its start event), else 'start' */
  readonly role?: SagaRole;
  /**
   * Contract version stamped on the saga (`ce_sagaversion`). @default for a start event, the
   * newest version of the saga among `contracts` when it declares one; none otherwise
   */
  readonly sagaVersion?: number;
  readonly step?: string;
  readonly causationId?: string;
  /** @default the active OpenTelemetry span's, else a new trace */
  readonly traceparent?: string;
  /** `ce_id`; pass a stable one to make re-publishing recognisable. @default a random UUID */
  readonly id?: string;
  /**
   * A transaction of the service's database (the publisher's `outbox` must be set): the event is
   * written to the outbox in it and published only if it commits — the row the caller writes in
   * the same transaction and the saga it starts exist together or not at all. An event larger
   * than its topic's `max.message.bytes` (read once per topic where the broker allows) is refused
   * here with OUTPUT_REFUSED instead of being written for the relay to have refused later.
   */
  readonly tx?: TransactionClient;
}

/** The publisher has no logger: without DESCRIBE_CONFIGS it publishes unchecked and the relay reports a refusal. */
const unlogged = pino({ level: 'silent' });

/** Publishes events from ordinary code, e.g. the start event of a saga from an HTTP handler. */
export class Publisher {
  private readonly knownTopics = new Set<string>();
  /** `max.message.bytes` of the topics published to in a transaction, where it could be read. */
  private readonly limits = new Map<string, number>();
  private readonly limitsRead = new Set<string>();

  private constructor(
    private readonly opts: PublisherOptions,
    private readonly partitions: number,
    private readonly replicationFactor: number | undefined,
  ) {}

  static create(opts: PublisherOptions): Promise<Publisher> {
    // A throw in the executor rejects: bad options fail the returned promise, not the caller's line.
    return new Promise((resolve) => {
      const check = new OptionChecks();
      check.required('transport', opts.transport);
      check.required('codec', opts.codec);
      check.matches('source', opts.source, /./, 'the publishing service name');
      const partitions = check.int('topics.partitions', opts.topics?.partitions ?? 3);
      const rf = opts.topics?.replicationFactor;
      const replicationFactor = rf === undefined ? undefined : check.int('topics.replicationFactor', rf);
      throwIfInvalid(check, 'publisher');
      resolve(new Publisher(opts, partitions, replicationFactor));
    });
  }

  /**
   * Validates and encodes the payload (an invalid one throws PAYLOAD_INVALID naming the field, and
   * nothing is sent), then appends it keyed by saga id. Resolves with the envelope it sent.
   */
  async publish<T>(type: EventType<T>, payload: T, options: PublishOptions): Promise<EventEnvelope> {
    if (typeof options?.sagaId !== 'string' || options.sagaId === '') {
      throw new SdkError('CONFIG_INVALID', `publish ${type.name}: sagaId is required (it is the message key)`);
    }
    const contracts = this.opts.contracts ?? [];
    const derived = roleInContracts(contracts, options.sagaType, type.name);
    const sagaType = options.sagaType ?? derived?.saga;
    if (sagaType === undefined) {
      throw new SdkError('CONFIG_INVALID', `publish ${type.name}: pass sagaType, or contracts that declare ${type.name}`);
    }
    const value = await encodeOrThrow(this.opts.codec, type, payload);
    const step = options.step ?? derived?.step;
    const role = options.role ?? derived?.role ?? 'start';
    // The initiator stamps the version new sagas follow; every later event carries it on.
    const sagaVersion = options.sagaVersion ?? (role === 'start' ? latestContract(contracts, sagaType)?.version : undefined);
    const id = options.id ?? randomUUID();
    // A saga's root span (or a child of the caller's active span): one trace per saga from here on.
    const send = startSendSpan(
      type.topic,
      { id, type: type.name, sagaId: options.sagaId, sagaType, ...(step !== undefined ? { step } : {}) },
      options.traceparent !== undefined ? contextFromTraceparent(options.traceparent) : context.active(),
      options.traceparent ?? outgoingTraceparent(undefined) ?? newTraceparent(),
    );
    const env: EventEnvelope = {
      id,
      source: this.opts.source,
      type: type.name,
      time: new Date().toISOString(),
      sagaId: options.sagaId,
      sagaType,
      ...(sagaVersion !== undefined ? { sagaVersion } : {}),
      sagaRole: role,
      ...(step !== undefined ? { sagaStep: step } : {}),
      ...(options.causationId !== undefined ? { causationId: options.causationId } : {}),
      traceparent: send.traceparent ?? newTraceparent(),
    };
    try {
      await this.ensureTopic(type.topic);
      const record = { topic: type.topic, key: options.sagaId, value, headers: toHeaders(env) };
      if (options.tx !== undefined) {
        const outbox = this.outboxFor(type.name);
        const tooLarge = oversizedOutput([record], await this.limitsOf(type.topic));
        if (tooLarge) throw tooLarge;
        await outbox.append(options.tx, [record]);
      } else await this.opts.transport.send([record]);
    } catch (err) {
      endSpan(send.span, err);
      throw err;
    }
    endSpan(send.span);
    return env;
  }

  private outboxFor(typeName: string): PostgresOutbox {
    if (this.opts.outbox === undefined) {
      throw new SdkError(
        'CONFIG_INVALID',
        `publish ${typeName} with tx: create the publisher with outbox (a PostgresOutbox) to publish in a transaction`,
      );
    }
    return this.opts.outbox;
  }

  private async limitsOf(topic: string): Promise<ReadonlyMap<string, number>> {
    if (!this.limitsRead.has(topic)) {
      await readOutputLimits(this.opts.transport, [topic], this.limits, unlogged);
      this.limitsRead.add(topic);
    }
    return this.limits;
  }

  private async ensureTopic(topic: string): Promise<void> {
    if (this.knownTopics.has(topic)) return;
    await ensureSagaTopics(this.opts.transport, {
      owner: `publisher ${this.opts.source}`,
      sagaTopics: [topic],
      partitions: this.partitions,
      replicationFactor: this.replicationFactor,
    });
    this.knownTopics.add(topic);
  }
}
