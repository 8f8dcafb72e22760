// `node --expose-gc --import tsx bench/timers.ts [--timers N] [--kafka]`: durable timers' numbers.
// 1. Memory per pending timer: N timers as ctx.schedule writes them (CloudEvents headers, a small
//    Avro payload) held in a TimerBook; heap used after a GC, before and after, divided by N.
// 2. Throughput: N sagas whose OrderPlaced schedules a reminder; wall time from the first publish
//    until every timer is committed (scheduled/s), and from when they fall due until every
//    reminder is emitted and handled (fired/s). On the memory transport with a VirtualClock (the
//    SDK's own cost) and, with --kafka, on KAFKA_BROKERS (exactly-once, 6 partitions).
// Not a test: nothing here asserts a number. Prints one JSON line last.
import { randomBytes } from 'node:crypto';
import { toHeaders } from '@troupe/core';
import { defineEventType, MemorySchemaRegistry, type EventType } from '@troupe/schema-registry';
import { KafkaTransport, MemoryTransport, on, Participant, Publisher, VirtualClock, type Transport } from '@troupe/sdk';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { TimerBook } from '../packages/sdk/src/timers/timer-book.js';
import { readTimer, timerRecord } from '../packages/sdk/src/timers/timer-record.js';

const args = process.argv.slice(2);
const N = Number(args[args.indexOf('--timers') + 1] ?? '') || 20_000;
const withKafka = args.includes('--kafka');
const logger = pino({ level: 'silent' });
const log = (s: string): void => void process.stderr.write(`${s}\n`);

function memoryPerTimer(n: number): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc');
  const value = Buffer.from(randomBytes(40));
  const record = (i: number) =>
    timerRecord({
      topic: 'billing.timers',
      partition: i % 6,
      key: `order-${i}/schedule:reminder`,
      sagaId: `order-${i}`,
      kind: 'event',
      dueAt: Date.now() + 60_000 + i,
      value: Buffer.from(value),
      headers: {
        ...toHeaders({
          id: `00000000-0000-5000-8000-${String(i).padStart(12, '0')}`,
          source: 'billing',
          type: 'test.timers.PaymentReminder',
          time: new Date().toISOString(),
          sagaId: `order-${i}`,
          sagaType: 'billing',
          sagaRole: 'step-completed',
          causationId: `00000000-0000-5000-8000-${String(i).padStart(12, '1')}`,
          traceparent: `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`,
        }),
        troupe_timer_topic: 'billing',
      },
    });
  gc();
  const before = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
  const book = new TimerBook();
  for (let i = 0; i < n; i++) {
    const r = record(i);
    const t = readTimer(r);
    if (t) book.apply(t.key, t);
  }
  gc();
  const after = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
  if (book.size !== n) throw new Error('book lost timers');
  return (after - before) / n;
}

const schema = (name: string) =>
  ({ type: 'record', name, namespace: 'bench.timers', fields: [{ name: 'orderId', type: 'string' }] }) as const;

async function throughput(
  transport: Transport,
  clock: VirtualClock | undefined,
  n: number,
  delayMs: number,
): Promise<{ scheduledPerS: number; firedPerS: number }> {
  const suffix = randomBytes(4).toString('hex');
  const Placed = defineEventType<{ orderId: string }>({
    name: 'bench.timers.OrderPlaced',
    topic: `bench-billing-${suffix}`,
    schema: schema('OrderPlaced'),
  });
  const Reminder = defineEventType<{ orderId: string }>({
    name: 'bench.timers.PaymentReminder',
    topic: `bench-billing-${suffix}`,
    schema: schema('PaymentReminder'),
  });
  const codec = new MemorySchemaRegistry();
  let scheduled = 0;
  let fired = 0;
  const p = await Participant.create({
    name: 'billing',
    groupId: `bench-billing-${suffix}`,
    transport,
    codec,
    events: [Placed, Reminder] as EventType[],
    timers: {},
    topics: { partitions: 6 },
    maxBatchSize: 500,
    logger,
    metricsRegistry: new Registry(),
    handlers: [
      on(Placed, async ({ payload, ctx }) => {
        await ctx.schedule(Reminder, payload, { after: delayMs, id: 'reminder' });
        scheduled += 1;
      }),
      on(Reminder, () => {
        fired += 1;
        return Promise.resolve();
      }),
    ],
  });
  const publisher = await Publisher.create({ transport, codec, source: 'bench', topics: { partitions: 6 } });
  const until = async (done: () => boolean): Promise<void> => {
    while (!done()) await (clock ? clock.settle() : new Promise((r) => setTimeout(r, 20)));
  };
  const t0 = Date.now();
  for (let i = 0; i < n; i += 500) {
    await Promise.all(
      Array.from({ length: Math.min(500, n - i) }, (_, k) =>
        publisher.publish(Placed, { orderId: `o-${i + k}` }, { sagaId: `o-${i + k}`, sagaType: 'billing' }),
      ),
    );
  }
  await until(() => scheduled >= n);
  const t1 = Date.now();
  let t2 = Date.now();
  if (clock) await clock.advance(delayMs);
  else {
    await new Promise((r) => setTimeout(r, Math.max(0, t0 + delayMs - Date.now())));
    t2 = Date.now();
  }
  await until(() => fired >= n);
  const t3 = Date.now();
  await p.close();
  return { scheduledPerS: Math.round(n / ((t1 - t0) / 1000)), firedPerS: Math.round(n / ((t3 - t2) / 1000)) };
}

const bytes = memoryPerTimer(N);
log(`memory per pending timer: ${Math.round(bytes)} bytes (${N} timers)`);
const clock = new VirtualClock();
const memory = await MemoryTransport.create({ clock });
const mem = await throughput(memory, clock, N, 60_000);
await memory.close();
log(`memory transport (virtual clock): ${mem.scheduledPerS} scheduled/s, ${mem.firedPerS} fired/s`);
let kafka: { scheduledPerS: number; firedPerS: number } | undefined;
if (withKafka) {
  const brokers = (process.env['KAFKA_BROKERS'] ?? '').split(',').filter((b) => b !== '');
  if (brokers.length === 0) throw new Error('--kafka needs KAFKA_BROKERS');
  const transport = await KafkaTransport.create({ brokers, logger });
  kafka = await throughput(transport, undefined, N, 20_000);
  await transport.close();
  log(`kafka (exactly-once): ${kafka.scheduledPerS} scheduled/s, ${kafka.firedPerS} fired/s`);
}
process.stdout.write(
  `${JSON.stringify({ timers: N, bytesPerPendingTimer: Math.round(bytes), memory: mem, ...(kafka ? { kafka } : {}) })}\n`,
);
