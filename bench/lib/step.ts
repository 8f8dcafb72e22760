// The one piece of work every "step" contender does, and the shared driver that feeds and times it:
// read an OrderPlaced (Avro, Confluent framing), write a PaymentCharged keyed by the same saga id,
// commit the consumed offset. Contenders differ only in the client that does it (raw kafkajs,
// Troupe, NestJS, Kafka Streams); producing the input and measuring are the same code for all.
import { readFileSync } from 'node:fs';
import { Partitioners, type Admin, type IHeaders, type Kafka } from 'kafkajs';
import { waitFor } from '@troupe/testing';
import { toHeaders } from '@troupe/core';
import { MemorySchemaRegistry, subjectOf, type EventType } from '@troupe/schema-registry';
import { OrderPlaced, PaymentCharged } from '../../test/generated/events.js';

/** What a contender process is told (JSON in BENCH_STEP). */
export interface StepConfig {
  readonly contender: string;
  readonly brokers: readonly string[];
  readonly inTopic: string;
  readonly outTopic: string;
  readonly groupId: string;
  readonly partitions: number;
  /** Records per produce/transaction chunk. */
  readonly batch: number;
}

export function stepTypes(cfg: Pick<StepConfig, 'inTopic' | 'outTopic'>): { In: EventType<OrderPlaced>; Out: EventType<PaymentCharged> } {
  return { In: { ...OrderPlaced, topic: cfg.inTopic }, Out: { ...PaymentCharged, topic: cfg.outTopic } };
}

/**
 * An in-process registry with OrderPlaced registered first (id 1) and PaymentCharged second
 * (id 2): every contender process and the Java app agree on ids without a registry server, which
 * would otherwise be one more JVM on a 2-core box.
 */
export async function stepCodec(cfg: Pick<StepConfig, 'inTopic' | 'outTopic'>): Promise<MemorySchemaRegistry> {
  const { In, Out } = stepTypes(cfg);
  const codec = new MemorySchemaRegistry();
  const inId = await codec.register(subjectOf(In), In.schema);
  const outId = await codec.register(subjectOf(Out), Out.schema);
  if (inId !== SCHEMA_IDS.in || outId !== SCHEMA_IDS.out) throw new Error(`unexpected schema ids ${inId}/${outId}`);
  return codec;
}
export const SCHEMA_IDS = { in: 1, out: 2 } as const;

/** The step's business logic, shared by every Node contender. */
export function paymentFor(order: OrderPlaced): PaymentCharged {
  return {
    orderId: order.orderId,
    paymentId: `p-${order.orderId}`,
    amountCents: order.totalCents,
    currency: order.currency,
    method: 'CARD',
  };
}

/**
 * Decode + logic + encode on raw bytes, for the contenders that do not use Troupe's envelope. The
 * event types are built once: the codec caches per type object.
 */
export async function stepTransform(cfg: Pick<StepConfig, 'inTopic' | 'outTopic'>): Promise<(value: Buffer | null) => Promise<Buffer>> {
  const codec = await stepCodec(cfg);
  const { In, Out } = stepTypes(cfg);
  return async (value) => codec.encode(Out, paymentFor((await codec.decode(value ?? Buffer.alloc(0), In)).payload));
}

/**
 * Creates topics and waits until every partition has a leader. kafkajs's own `waitForLeaders`
 * gives up when a fresh KRaft broker answers UNKNOWN_TOPIC_OR_PARTITION for a moment.
 */
export async function createTopics(admin: Admin, args: { topics: readonly string[]; partitions: number }): Promise<void> {
  await admin.createTopics({
    waitForLeaders: false,
    topics: args.topics.map((topic) => ({ topic, numPartitions: args.partitions, replicationFactor: 1 })),
  });
  await waitFor(
    async () => {
      const { topics } = await admin.fetchTopicMetadata({ topics: [...args.topics] });
      return (
        topics.length === args.topics.length &&
        topics.every((t) => t.partitions.length === args.partitions && t.partitions.every((p) => p.leader >= 0))
      );
    },
    { description: `leaders for ${args.topics.join(', ')}`, timeoutMs: 60_000, intervalMs: 100 },
  );
}

/** Writes `n` OrderPlaced events (CloudEvents headers, key = saga id) to `topic`. */
export async function produceInput(kafka: Kafka, args: { topic: string; n: number }): Promise<void> {
  const { topic, n } = args;
  const codec = await stepCodec({ inTopic: topic, outTopic: 'unused' });
  const { In } = stepTypes({ inTopic: topic, outTopic: 'unused' });
  const producer = kafka.producer({ idempotent: true, createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const time = new Date().toISOString();
  for (let i = 0; i < n; i += 1000) {
    const messages: { key: string; value: Buffer; headers: IHeaders }[] = [];
    for (let j = i; j < Math.min(n, i + 1000); j++) {
      const id = `order-${j}`;
      const value = await codec.encode(In, {
        orderId: id,
        customerId: 'c-1',
        items: [{ sku: 'SKU-1', quantity: 1, unitPriceCents: 1000 }],
        totalCents: 1000,
        currency: 'EUR',
        shippingAddress: { line1: 'Main 1', line2: null, city: 'Utrecht', postalCode: '3511', country: 'NL' },
        couponCode: null,
      });
      const headers = toHeaders({
        id: `e-${id}`,
        source: 'bench',
        type: In.name,
        time,
        sagaId: id,
        sagaType: 'order-fulfillment',
        sagaRole: 'start',
      });
      messages.push({ key: id, value, headers });
    }
    await producer.send({ topic, messages });
  }
  await producer.disconnect();
}

const sumOffsets = (parts: readonly { offset?: string; high?: string }[], field: 'offset' | 'high'): number =>
  parts.reduce((s, p) => s + Math.max(0, Number(p[field] ?? 0)), 0);

/** CPU seconds (user + system, all threads) a process has used so far, from /proc (Linux). */
export function cpuSecondsOf(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces): utime and stime are 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}
const CLOCK_TICKS = 100;

/**
 * Times a contender from the outside, the same way for every client and language: the clock
 * starts when its first output record appears (so start-up and group join are not counted) and
 * stops when the group's committed offsets cover the whole input (so the tail commit is) and the
 * output topic holds as many records (an outbox relay publishes after the offsets commit). Over
 * the same window it reads the contender's CPU time, which a loaded machine distorts far less
 * than wall time.
 */
export async function timeStep(
  admin: Admin,
  args: {
    inTopic: string;
    outTopic: string;
    groupId: string;
    pid: number | undefined;
    exited: () => string | undefined;
    timeoutMs: number;
  },
): Promise<{ seconds: number; cpuSeconds: number | undefined }> {
  const { inTopic, outTopic, groupId } = args;
  const endSum = sumOffsets(await admin.fetchTopicOffsets(inTopic), 'high');
  const deadline = Date.now() + args.timeoutMs;
  let t0 = 0;
  let cpu0: number | undefined;
  for (;;) {
    const failed = args.exited();
    if (failed !== undefined) throw new Error(`contender for group ${groupId} ended before finishing: ${failed}`);
    if (Date.now() > deadline) throw new Error(`contender for group ${groupId} did not finish within ${args.timeoutMs} ms`);
    // A fresh topic's leader may not be known yet for a moment: a failed look-up means "not yet".
    if (t0 === 0 && sumOffsets(await admin.fetchTopicOffsets(outTopic).catch(() => []), 'high') > 0) {
      t0 = performance.now();
      cpu0 = cpuSecondsOf(args.pid);
    }
    if (t0 !== 0) {
      const [c] = await admin.fetchOffsets({ groupId, topics: [inTopic] }).catch(() => []);
      // The outputs must be there too: an outbox relay publishes after the offsets are committed.
      const outputs = async (): Promise<number> => sumOffsets(await admin.fetchTopicOffsets(outTopic).catch(() => []), 'high');
      if (sumOffsets(c?.partitions ?? [], 'offset') >= endSum && (await outputs()) >= endSum) {
        const cpu1 = cpuSecondsOf(args.pid);
        return { seconds: (performance.now() - t0) / 1000, cpuSeconds: cpu0 !== undefined && cpu1 !== undefined ? cpu1 - cpu0 : undefined };
      }
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}
