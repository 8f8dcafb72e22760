import {
  deadLetterTopicOf,
  isDeadLetterTopic,
  parseEnvelope,
  type EventEnvelope,
  type KafkaHeaders,
  type SagaContract,
} from '@troupe/core';
import { type EventCodec, type EventType } from '@troupe/schema-registry';
import {
  KafkaTransport,
  MemoryTransport,
  Publisher,
  VirtualClock,
  type DurationInput,
  type InboundMessage,
  type PublishOptions,
  type Transport,
} from '@troupe/sdk';
import { createRecorder, type Recorder } from './recorder.js';

export interface SagaHarnessOptions {
  readonly transport: Transport;
  readonly codec: EventCodec;
  /** Event types whose topics (and their `.dlq` topics) are recorded. */
  readonly events: readonly EventType[];
  /** Contracts, so published start events get their saga type and role. */
  readonly contracts?: readonly SagaContract[];
  /** @default 'test-harness' */
  readonly source?: string;
  /**
   * Partitions of the topics the harness has to create (only on Kafka, only missing ones).
   * @default 3
   */
  readonly partitions?: number;
  /**
   * Default time limit of the `waitFor...` methods.
   * @default 15_000
   */
  readonly timeoutMs?: number;
}

/** A recorded event: its envelope, decoded payload and where it was found. */
export interface RecordedEvent {
  readonly envelope: EventEnvelope;
  /** Decoded with the writer schema; undefined when it cannot be decoded (see `decodeError`). */
  readonly payload: unknown;
  readonly decodeError?: string;
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: string | null;
  readonly headers: KafkaHeaders;
}

const typeName = (t: EventType | string): string => (typeof t === 'string' ? t : t.name);

/**
 * A test kit for services built on `@troupe/sdk`, on the memory transport or a real broker:
 * publish an event, wait for the events a saga should produce, inspect what was published and
 * what a consumer group has consumed.
 *
 * ```ts
 * const harness = await SagaHarness.create({ transport, codec, events: allEventTypes, contracts: [orderFulfillment] });
 * await harness.publish(OrderPlaced, { orderId: 'o-1', ... }, { sagaId: 'o-1' });
 * const events = await harness.waitForEvents('o-1', [PaymentCharged, InventoryReserved, ShipmentScheduled]);
 * ```
 */
export class SagaHarness {
  /** Envelopes of the events published through the harness. */
  readonly published: EventEnvelope[] = [];
  private readonly decoded = new WeakMap<InboundMessage, Promise<RecordedEvent | undefined>>();

  private constructor(
    private readonly opts: SagaHarnessOptions,
    private readonly publisher: Publisher,
    private readonly recorder: Recorder,
    private readonly eventTopics: readonly string[],
  ) {}

  static async create(opts: SagaHarnessOptions): Promise<SagaHarness> {
    if (!opts.events?.length) throw new Error('SagaHarness: pass the event types to record (events: [...])');
    const eventTopics = [...new Set(opts.events.map((e) => e.topic))].sort();
    const topics = [...eventTopics, ...eventTopics.map((t) => deadLetterTopicOf(t))];
    const partitions = opts.partitions ?? 3;
    const publisher = await Publisher.create({
      transport: opts.transport,
      codec: opts.codec,
      source: opts.source ?? 'test-harness',
      topics: { partitions },
      ...(opts.contracts ? { contracts: opts.contracts } : {}),
    });
    if (opts.transport instanceof MemoryTransport) {
      await opts.transport.ensureTopics(topics.map((topic) => ({ topic, partitions })));
    }
    const recorder = await createRecorder(opts.transport, topics, partitions);
    return new SagaHarness(opts, publisher, recorder, eventTopics);
  }

  /** Publishes like a service would (validated, keyed by saga id, CloudEvents headers). */
  async publish<T>(type: EventType<T>, payload: T, options: PublishOptions): Promise<EventEnvelope> {
    const env = await this.publisher.publish(type, payload, options);
    this.published.push(env);
    return env;
  }

  /** Every recorded event with a valid envelope on the event topics, optionally filtered. */
  async events(filter: { readonly sagaId?: string; readonly type?: EventType | string } = {}): Promise<RecordedEvent[]> {
    const all = await Promise.all(this.recorder.records.filter((r) => !isDeadLetterTopic(r.topic)).map((r) => this.decode(r)));
    return all.filter(
      (e): e is RecordedEvent =>
        e !== undefined &&
        (filter.sagaId === undefined || e.envelope.sagaId === filter.sagaId) &&
        (filter.type === undefined || e.envelope.type === typeName(filter.type)),
    );
  }

  /** Raw records of the dead-letter topics (`<topic>.dlq`) of the recorded topics. */
  deadLetters(): readonly InboundMessage[] {
    return this.recorder.records.filter((r) => isDeadLetterTopic(r.topic));
  }

  /**
   * Waits until the saga has produced at least one event of every listed type; resolves with all
   * of the saga's events so far.
   */
  waitForEvents(sagaId: string, types: readonly (EventType | string)[], timeoutMs?: number): Promise<RecordedEvent[]> {
    const names = types.map(typeName);
    return this.waitFor(
      async () => {
        const evs = await this.events({ sagaId });
        return names.every((n) => evs.some((e) => e.envelope.type === n)) ? evs : undefined;
      },
      `saga ${sagaId} to produce ${names.join(', ')}`,
      timeoutMs,
    );
  }

  /**
   * Re-evaluates `probe` after every recorded record until it returns a value (not undefined);
   * fails after the time limit, saying what it waited for.
   */
  waitFor<R>(probe: () => Promise<R | undefined>, description: string, timeoutMs = this.opts.timeoutMs ?? 15_000): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      let running = false;
      let again = false;
      let done = false;
      const finish = (fn: () => void): void => {
        done = true;
        clearTimeout(timer);
        off();
        fn();
      };
      const evaluate = (): void => {
        if (done) return;
        if (running) {
          again = true;
          return;
        }
        running = true;
        probe().then(
          (value) => {
            running = false;
            if (value !== undefined) finish(() => resolve(value));
            else if (again) {
              again = false;
              evaluate();
            }
          },
          (err: unknown) => finish(() => reject(err instanceof Error ? err : new Error(String(err)))),
        );
      };
      const timer = setTimeout(() => {
        finish(() =>
          reject(
            new Error(`harness: timed out after ${timeoutMs} ms waiting for ${description} (${this.recorder.records.length} records seen)`),
          ),
        );
      }, timeoutMs);
      const off = this.recorder.onRecord(evaluate);
      evaluate();
    });
  }

  /** Events of the recorded topics that a consumer group has consumed (committed past). */
  async consumed(groupId: string): Promise<RecordedEvent[]> {
    const committed = new Map<string, bigint>();
    const t = this.opts.transport;
    if (t instanceof MemoryTransport) {
      for (const topic of this.eventTopics) {
        for (let p = 0; p < 64; p++) {
          const c = t.committedOffset(groupId, topic, p);
          if (c !== undefined) committed.set(`${topic}/${p}`, BigInt(c));
        }
      }
    } else if (t instanceof KafkaTransport) {
      const offsets = await t.adminClient.fetchOffsets({ groupId, topics: [...this.eventTopics] });
      for (const o of offsets) for (const p of o.partitions) committed.set(`${o.topic}/${p.partition}`, BigInt(p.offset));
    }
    return (await this.events()).filter((e) => BigInt(e.offset) < (committed.get(`${e.topic}/${e.partition}`) ?? -1n));
  }

  /**
   * Moves virtual time forward: timers, saga deadlines, retry-topic delays and redelivery pauses
   * due on the way act, in due order, each followed by what it sets off. Needs the memory
   * transport on a virtual clock (`MemoryTransport.create({ clock: new VirtualClock() })`).
   */
  async advance(by: DurationInput): Promise<void> {
    await this.virtualClock('advance').advance(by);
  }

  /** The transport's current time (ms since the epoch): the virtual clock's, or the wall clock's. */
  now(): number {
    return this.opts.transport.clock?.now() ?? Date.now();
  }

  private virtualClock(method: string): VirtualClock {
    const clock = this.opts.transport.clock;
    if (!(clock instanceof VirtualClock)) {
      throw new Error(
        `harness.${method} needs virtual time: create the transport with MemoryTransport.create({ clock: new VirtualClock() }) ` +
          '(on Kafka, use short deadlines and wait for the events instead)',
      );
    }
    return clock;
  }

  /** Waits until everything committed so far is recorded (exact counts after services stopped). */
  settle(timeoutMs = this.opts.timeoutMs ?? 15_000): Promise<void> {
    return this.recorder.settle(timeoutMs);
  }

  async close(): Promise<void> {
    await this.recorder.close();
  }

  private decode(record: InboundMessage): Promise<RecordedEvent | undefined> {
    let p = this.decoded.get(record);
    if (!p) {
      p = (async () => {
        let envelope: EventEnvelope;
        try {
          envelope = parseEnvelope(record.headers);
        } catch {
          return undefined;
        }
        const base = {
          envelope,
          topic: record.topic,
          partition: record.partition,
          offset: record.offset,
          key: record.key === null ? null : record.key.toString('utf8'),
          headers: record.headers,
        };
        if (record.value === null) return { ...base, payload: undefined, decodeError: 'no value' };
        try {
          return { ...base, payload: (await this.opts.codec.decode(record.value)).payload };
        } catch (err) {
          return { ...base, payload: undefined, decodeError: err instanceof Error ? err.message : String(err) };
        }
      })();
      this.decoded.set(record, p);
    }
    return p;
  }
}
