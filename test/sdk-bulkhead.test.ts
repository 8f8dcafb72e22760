// Issue 16: two steps in one participant, one of them slowed. The slow handler is held to its
// bulkhead; the other handler's throughput is measured against a run where nothing is slow, and
// against the one-saga-at-a-time handling of a batch (`sagaConcurrency: 1`, as before bulkheads).
// Reported, not asserted (no timing thresholds): a slow step still holds back the commit of the
// events after it in the same partition, so the ratio shows how much of that coupling is left —
// and, with `overflow: 'retry-topic'`, how much moving the slow step's backlog aside gives back.
import { defineEventType, MemorySchemaRegistry } from '@troupe/schema-registry';
import { KafkaTransport, on, Participant, Publisher } from '@troupe/sdk';
import { kafkaBrokers, uniqueName, waitFor } from '@troupe/testing';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from './fixtures/sdk-kafka.js';

interface Ev {
  id: string;
}
const schema = (name: string) => ({ type: 'record' as const, name, namespace: 'test.bulkhead', fields: [{ name: 'id', type: 'string' }] });
const PARTITIONS = 6;
const SAGAS_PER_STEP = 300;
const SLOW_MS = 100;
const SLOW_BULKHEAD = 8;

interface Run {
  /** Fast handler's events per second, from the first event handled to its last one. */
  fastPerSecond: number;
  slowPerSecond: number;
  maxSlowInFlight: number;
}

describe('bulkheads on Kafka', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const fn of cleanup.reverse()) await fn().catch(() => undefined);
  });

  async function run(label: string, slowMs: number, sagaConcurrency: number | undefined, overflow = false): Promise<Run> {
    const suffix = uniqueName(`bulkhead-${label}`);
    const topic = `bulkhead-${suffix}`;
    const Slow = defineEventType<Ev>({ name: 'test.bulkhead.Slow', topic, schema: schema('Slow') });
    const Fast = defineEventType<Ev>({ name: 'test.bulkhead.Fast', topic, schema: schema('Fast') });
    const transport = await KafkaTransport.create({ brokers: kafkaBrokers(), logger: silentLogger, redeliveryDelayMs: 50 });
    cleanup.push(() => transport.close());
    const codec = new MemorySchemaRegistry();
    // A backlog first, interleaved (every partition holds both kinds), then the participant drains it.
    const publisher = await Publisher.create({ transport, codec, source: 'test', topics: { partitions: PARTITIONS } });
    for (let i = 0; i < SAGAS_PER_STEP; i += 50) {
      await Promise.all(
        Array.from({ length: 50 }, (_, k) => i + k).flatMap((n) => [
          publisher.publish(Slow, { id: `s${n}` }, { sagaId: `${suffix}-s${n}`, sagaType: 'bulkhead' }),
          publisher.publish(Fast, { id: `f${n}` }, { sagaId: `${suffix}-f${n}`, sagaType: 'bulkhead' }),
        ]),
      );
    }
    const fastAt: number[] = [];
    const slowAt: number[] = [];
    let slowInFlight = 0;
    let maxSlowInFlight = 0;
    const participant = await Participant.create({
      name: 'bulkhead-service',
      groupId: `bulkhead-service-${suffix}`,
      transport,
      codec,
      logger: silentLogger,
      metricsRegistry: new Registry(),
      topics: { partitions: PARTITIONS },
      ...(sagaConcurrency !== undefined ? { sagaConcurrency } : {}),
      ...(overflow ? { retryTopic: { delayMs: 1000 } } : {}),
      handlers: [
        on(
          Slow,
          async () => {
            slowInFlight += 1;
            maxSlowInFlight = Math.max(maxSlowInFlight, slowInFlight);
            await new Promise((r) => setTimeout(r, slowMs));
            slowInFlight -= 1;
            slowAt.push(Date.now());
          },
          { concurrency: SLOW_BULKHEAD, ...(overflow ? { overflow: 'retry-topic' as const } : {}) },
        ),
        on(Fast, () => {
          fastAt.push(Date.now());
          return Promise.resolve();
        }),
      ],
    });
    cleanup.push(() => participant.close());
    await waitFor(() => fastAt.length >= SAGAS_PER_STEP && slowAt.length >= SAGAS_PER_STEP, { timeoutMs: 240_000 });
    await participant.close();
    const first = Math.min(...fastAt, ...slowAt);
    const rate = (at: number[]) => (at.length * 1000) / Math.max(1, Math.max(...at) - first);
    return { fastPerSecond: rate(fastAt), slowPerSecond: rate(slowAt), maxSlowInFlight };
  }

  it("one step slowed: it stays within its bulkhead; the other step's throughput is reported against an unslowed run", async () => {
    const baseline = await run('base', 0, undefined);
    const slowed = await run('slow', SLOW_MS, undefined);
    const sequential = await run('seq', SLOW_MS, 1);
    const overflowing = await run('overflow', SLOW_MS, undefined, true);
    for (const r of [baseline, slowed, sequential, overflowing]) expect(r.maxSlowInFlight).toBeLessThanOrEqual(SLOW_BULKHEAD);
    expect(slowed.maxSlowInFlight).toBeGreaterThan(1);
    const f = (n: number) => n.toFixed(0);
    console.log(
      `[bulkhead] fast step: ${f(baseline.fastPerSecond)}/s with nothing slow; ${f(slowed.fastPerSecond)}/s with the other step at ${SLOW_MS} ms ` +
        `(bulkhead ${SLOW_BULKHEAD}, ${f(slowed.slowPerSecond)}/s): ratio ${(slowed.fastPerSecond / baseline.fastPerSecond).toFixed(2)}; ` +
        `one saga at a time per batch (sagaConcurrency 1): ${f(sequential.fastPerSecond)}/s, ratio ${(sequential.fastPerSecond / baseline.fastPerSecond).toFixed(2)}; ` +
        `slow step overflowing to the retry topic (overflow: 'retry-topic'): ${f(overflowing.fastPerSecond)}/s, ratio ${(overflowing.fastPerSecond / baseline.fastPerSecond).toFixed(2)} ` +
        `(slow step ${f(overflowing.slowPerSecond)}/s)`,
    );
  });
});
