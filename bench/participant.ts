// Participant throughput on a real broker: the same work (decode OrderPlaced, encode and produce a
// PaymentCharged keyed by saga id, commit the consumed offsets) done by
//   raw   — a hand-written kafkajs eachBatch loop (idempotent producer, offsets committed after send)
//   alo   — a Troupe participant with delivery: 'at-least-once'
//   eos   — a Troupe participant with delivery: 'exactly-once' (transaction per batch + sendOffsets)
// Run: KAFKA_BROKERS=host:port npx tsx bench/participant.ts   (without KAFKA_BROKERS a local broker
// is started). BENCH_N events (default 20000), BENCH_PARTITIONS (default 6), BENCH_BATCH (default 200).
// Prints events/s per mode and the ratio to raw. Not a test: no thresholds.
import { randomBytes } from 'node:crypto';
import { Partitioners, type Kafka } from 'kafkajs';
import { pino } from 'pino';
import { toHeaders } from '@troupe/core';
import { MemorySchemaRegistry } from '@troupe/schema-registry';
import { KafkaTransport, Participant, on, type DeliveryMode } from '@troupe/sdk';
import { startTestKafka } from '@troupe/testing';
import { OrderPlaced, PaymentCharged } from '../test/generated/events.js';

const N = Number(process.env['BENCH_N'] ?? 20_000);
const PARTITIONS = Number(process.env['BENCH_PARTITIONS'] ?? 6);
const BATCH = Number(process.env['BENCH_BATCH'] ?? 200);
const run = `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
const logger = pino({ level: 'silent' });

const kafkaHandle = await startTestKafka({ onProgress: (m) => process.stderr.write(`[kafka] ${m}\n`) });
const transport = await KafkaTransport.create({ brokers: kafkaHandle.brokers, logger });
const kafka: Kafka = transport.kafka;
const codec = new MemorySchemaRegistry();

// Topics as the generated event types name them, made unique per run.
const inTopic = `bench-orders-${run}`;
const In = { ...OrderPlaced, topic: inTopic };
const outTopic = (mode: string): string => `bench-payments-${mode}-${run}`;
await transport.ensureTopics([inTopic, ...['raw', 'alo', 'eos'].map(outTopic)].map((topic) => ({ topic, partitions: PARTITIONS, replicationFactor: 1 })));

async function produceInput(): Promise<void> {
  const producer = kafka.producer({ idempotent: true, createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  for (let i = 0; i < N; i += 1000) {
    const messages = await Promise.all(
      Array.from({ length: Math.min(1000, N - i) }, async (_, j) => {
        const id = `order-${i + j}`;
        const value = await codec.encode(In, {
          orderId: id,
          customerId: 'c-1',
          items: [{ sku: 'SKU-1', quantity: 1, unitPriceCents: 1000 }],
          totalCents: 1000,
          currency: 'EUR',
          shippingAddress: { line1: 'Main 1', line2: null, city: 'Utrecht', postalCode: '3511', country: 'NL' },
          couponCode: null,
        });
        const headers = toHeaders({ id: `e-${id}`, source: 'bench', type: In.name, time: new Date().toISOString(), sagaId: id, sagaType: 'order-fulfillment', sagaRole: 'start' });
        return { key: id, value, headers };
      }),
    );
    await producer.send({ topic: inTopic, messages });
  }
  await producer.disconnect();
}

/** Waits until the group's committed offsets cover the whole input; returns the elapsed seconds. */
async function waitCommitted(groupId: string, started: bigint): Promise<number> {
  const admin = transport.adminClient;
  const ends = await admin.fetchTopicOffsets(inTopic);
  const endSum = ends.reduce((s, p) => s + Number(p.high), 0);
  for (;;) {
    const [c] = await admin.fetchOffsets({ groupId, topics: [inTopic] });
    const sum = (c?.partitions ?? []).reduce((s, p) => s + Math.max(0, Number(p.offset)), 0);
    if (sum >= endSum) return Number(process.hrtime.bigint() - started) / 1e9;
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function raw(): Promise<number> {
  const groupId = `bench-raw-${run}`;
  const producer = kafka.producer({ idempotent: true, createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const consumer = kafka.consumer({ groupId });
  await consumer.connect();
  await consumer.subscribe({ topic: inTopic, fromBeginning: true });
  const started = process.hrtime.bigint();
  await consumer.run({
    autoCommit: false,
    partitionsConsumedConcurrently: 4,
    eachBatch: async (payload) => {
      const { batch } = payload;
      for (let i = 0; i < batch.messages.length; i += BATCH) {
        const chunk = batch.messages.slice(i, i + BATCH);
        const out = await Promise.all(
          chunk.map(async (m) => {
            const order = (await codec.decode(m.value ?? Buffer.alloc(0), In)).payload;
            const value = await codec.encode(PaymentCharged, { orderId: order.orderId, paymentId: `p-${order.orderId}`, amountCents: order.totalCents, currency: order.currency, method: 'CARD' });
            return { key: m.key, value, headers: m.headers ?? {} };
          }),
        );
        await producer.send({ topic: outTopic('raw'), messages: out });
        const last = chunk[chunk.length - 1];
        if (last) {
          await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: String(BigInt(last.offset) + 1n) }]);
          payload.resolveOffset(last.offset);
        }
        await payload.heartbeat();
      }
    },
  });
  const secs = await waitCommitted(groupId, started);
  await consumer.disconnect();
  await producer.disconnect();
  return secs;
}

async function participant(delivery: DeliveryMode, mode: string): Promise<number> {
  const Out = { ...PaymentCharged, topic: outTopic(mode) };
  const groupId = `bench-${mode}-${run}`;
  const started = process.hrtime.bigint();
  const p = await Participant.create({
    name: 'payment-service',
    groupId,
    transport,
    codec,
    delivery,
    logger,
    maxBatchSize: BATCH,
    maxBatchMs: 1000,
    concurrency: 4,
    topics: { partitions: PARTITIONS },
    handlers: [
      on(In, async ({ payload, ctx }) => {
        await ctx.emit(Out, { orderId: payload.orderId, paymentId: `p-${payload.orderId}`, amountCents: payload.totalCents, currency: payload.currency, method: 'CARD' });
      }),
    ],
  });
  const secs = await waitCommitted(groupId, started);
  await p.close();
  return secs;
}

await produceInput();
const results: [string, number][] = [];
results.push(['raw kafkajs consume→produce', N / (await raw())]);
results.push(['participant at-least-once', N / (await participant('at-least-once', 'alo'))]);
results.push(['participant exactly-once', N / (await participant('exactly-once', 'eos'))]);
const base = results[0]?.[1] ?? 1;
console.log(`\n${N} events, ${PARTITIONS} partitions, batch ${BATCH}, broker ${kafkaHandle.brokers.join(',')} (${kafkaHandle.kind})`);
for (const [name, rate] of results) console.log(`${name.padEnd(30)} ${rate.toFixed(0).padStart(8)} events/s   ratio to raw ${(rate / base).toFixed(2)}`);
await transport.close();
await kafkaHandle.stop();
