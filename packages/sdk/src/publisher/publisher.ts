import { randomUUID } from 'node:crypto';
import { toHeaders, type EventEnvelope, type SagaContract, type SagaRole } from '@troupe/core';
import { type EventCodec, type EventType } from '@troupe/schema-registry';
import { encodeOrThrow } from '../participant/encode.js';
import { SdkError } from '../errors.js';
import { roleInContracts } from '../participant/saga-roles.js';
import { ensureSagaTopics } from '../transport/topics.js';
import { newTraceparent, outgoingTraceparent } from '../operations/trace.js';
import type { Transport } from '../transport/transport.js';

export interface PublisherOptions {
  readonly transport: Transport;
  readonly codec: EventCodec;
  /** The publishing service: `ce_source`. */
  readonly source: string;
  /** Contracts to derive saga type and role from (publishing a contract's start event starts a saga). */
  readonly contracts?: readonly SagaContract[];
  /**
   * Partition count and replication factor for topics that do not exist yet.
   * @default { partitions: 3, replicationFactor: 1 }
   */
  readonly topics?: { readonly partitions?: number; readonly replicationFactor?: number };
}

export interface PublishOptions {
  /** Saga instance id; also the message key. */
  readonly sagaId: string;
  /** @default the saga of the contract that declares this event type */
  readonly sagaType?: string;
  /** @default from the contract ('start' for its start event), else 'start' */
  readonly role?: SagaRole;
  readonly step?: string;
  readonly causationId?: string;
  /** @default the active OpenTelemetry span's, else a new trace */
  readonly traceparent?: string;
  /** `ce_id`; pass a stable one to make re-publishing recognisable. @default a random UUID */
  readonly id?: string;
}

/** Publishes events from ordinary code, e.g. the start event of a saga from an HTTP handler. */
export class Publisher {
  private readonly knownTopics = new Set<string>();

  private constructor(
    private readonly opts: PublisherOptions,
    private readonly partitions: number,
    private readonly replicationFactor: number,
  ) {}

  static create(opts: PublisherOptions): Promise<Publisher> {
    const problems: string[] = [];
    if (!opts.transport) problems.push('transport is required');
    if (!opts.codec) problems.push('codec is required');
    if (typeof opts.source !== 'string' || opts.source === '') problems.push('source (the publishing service name) is required');
    const partitions = opts.topics?.partitions ?? 3;
    const replicationFactor = opts.topics?.replicationFactor ?? 1;
    if (!Number.isInteger(partitions) || partitions < 1) problems.push('topics.partitions must be an integer >= 1');
    if (!Number.isInteger(replicationFactor) || replicationFactor < 1) problems.push('topics.replicationFactor must be an integer >= 1');
    if (problems.length > 0) return Promise.reject(new SdkError('CONFIG_INVALID', `publisher: ${problems.join('; ')}`));
    return Promise.resolve(new Publisher(opts, partitions, replicationFactor));
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
    const env: EventEnvelope = {
      id: options.id ?? randomUUID(),
      source: this.opts.source,
      type: type.name,
      time: new Date().toISOString(),
      sagaId: options.sagaId,
      sagaType,
      sagaRole: options.role ?? derived?.role ?? 'start',
      ...(step !== undefined ? { sagaStep: step } : {}),
      ...(options.causationId !== undefined ? { causationId: options.causationId } : {}),
      traceparent: options.traceparent ?? outgoingTraceparent(undefined) ?? newTraceparent(),
    };
    await this.ensureTopic(type.topic);
    await this.opts.transport.send([{ topic: type.topic, key: options.sagaId, value, headers: toHeaders(env) }]);
    return env;
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
