// Issue 16: a downstream that is down for 30 s under load. The step's circuit breaker opens, its
// events wait (their partitions pause) instead of using up retries: nothing is dead-lettered, no
// failure event starts a compensation, and once the downstream is back every saga completes, once.
// The queues stay within their bound while fetching is paused (RSS reported).
import { headerString } from '@troupe/core';
import { defineEventType, MemorySchemaRegistry } from '@troupe/schema-registry';
import { KafkaTransport, Participant, Publisher, readTopicToEnd, SdkError, step } from '@troupe/sdk';
import { kafkaBrokers, testKafka, uniqueName, waitFor } from '@troupe/testing';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from './fixtures/sdk-kafka.js';

interface Charge {
  id: string;
  pad: string;
}
const schema = (name: string) => ({
  type: 'record' as const,
  name,
  namespace: 'test.breaker',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'pad', type: 'string' },
  ],
});
const PARTITIONS = 6;
const MAX_QUEUED_RECORDS = 100;
const MAX_QUEUED_BYTES = 64 * 1024;
/** kafkajs's maxBytesPerPartition: one fetch may overshoot a queue's bound by that much. */
const FETCH_OVERSHOOT = 1024 * 1024;
const OUTAGE_MS = 30_000;

describe('circuit breaker on Kafka', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const fn of cleanup.reverse()) await fn().catch(() => undefined);
  });

  it('a downstream down for 30 s under load: the breaker opens, nothing is dead-lettered or compensated, every saga completes once after', async () => {
    const suffix = uniqueName('breaker');
    const topic = `breaker-requests-${suffix}`;
    const out = `breaker-outcomes-${suffix}`;
    const Requested = defineEventType<Charge>({ name: 'test.breaker.Requested', topic, schema: schema('Requested') });
    const Charged = defineEventType<Charge>({ name: 'test.breaker.Charged', topic: out, schema: schema('Charged') });
    const Declined = defineEventType<Charge>({ name: 'test.breaker.Declined', topic: out, schema: schema('Declined') });
    const transport = await KafkaTransport.create({
      brokers: kafkaBrokers(),
      logger: silentLogger,
      redeliveryDelayMs: 50,
      maxQueuedRecords: MAX_QUEUED_RECORDS,
      maxQueuedBytes: MAX_QUEUED_BYTES,
    });
    cleanup.push(() => transport.close());
    const codec = new MemorySchemaRegistry();
    const metrics = new Registry();
    let downSince: number | undefined;
    let downUntil = 0;
    let attempts = 0;
    let attemptsWhileDown = 0;
    const participant = await Participant.create({
      name: 'charge-service',
      groupId: `charge-service-${suffix}`,
      transport,
      codec,
      logger: silentLogger,
      metricsRegistry: metrics,
      topics: { partitions: PARTITIONS },
      retry: { attempts: 3, initialDelayMs: 20, maxDelayMs: 100 },
      circuitBreaker: { openMs: 2_000 },
      handlers: [
        step({
          name: 'charge',
          on: Requested,
          completed: Charged,
          failed: Declined,
          downstream: 'card-api',
          handle: async ({ payload, ctx }) => {
            attempts += 1;
            if (Date.now() < downUntil) {
              attemptsWhileDown += 1;
              throw new SdkError('TRANSPORT_ERROR', 'card-api: connection refused');
            }
            return ctx.complete(payload);
          },
          onGiveUp: ({ payload }) => payload,
        }),
      ],
    });
    cleanup.push(() => participant.close());
    const publisher = await Publisher.create({ transport, codec, source: 'test', topics: { partitions: PARTITIONS } });
    await waitFor(async () => (await participant.health()).details['group']?.includes(`${PARTITIONS} topic-partitions`) === true, {
      timeoutMs: 60_000,
    });

    // Load: ~40 sagas/s for 45 s; the card API is down from 5 s to 35 s.
    const pad = 'x'.repeat(1024);
    const ids: string[] = [];
    const samples: { degraded: boolean; state: string; queuedBytes: number; queuedRecords: number; rss: number }[] = [];
    let loading = true;
    const sampler = (async () => {
      while (loading) {
        const h = await participant.health();
        const q = /^(\d+) records, (\d+) bytes/.exec(h.details['queued'] ?? '');
        const gauge = await metrics.getSingleMetricAsString('troupe_circuit_state');
        samples.push({
          degraded: h.degraded,
          state: /circuit="card-api"} (\d)/.exec(gauge)?.[1] ?? '?',
          queuedRecords: Number(q?.[1] ?? 0),
          queuedBytes: Number(q?.[2] ?? 0),
          rss: process.memoryUsage().rss,
        });
        await new Promise((r) => setTimeout(r, 250));
      }
    })();
    const started = Date.now();
    for (let i = 0; Date.now() - started < 45_000; i++) {
      if (downSince === undefined && Date.now() - started >= 5_000) {
        downSince = Date.now();
        downUntil = downSince + OUTAGE_MS;
      }
      const id = `${suffix}-${i}`;
      ids.push(id);
      await publisher.publish(Requested, { id, pad }, { sagaId: id, sagaType: 'breaker-test' });
      await new Promise((r) => setTimeout(r, 25));
    }
    const kafka = testKafka();
    const outcomes = async () => readTopicToEnd(kafka, out);
    await waitFor(async () => (await outcomes()).length >= ids.length, { timeoutMs: 180_000 });
    loading = false;
    await sampler;

    // The breaker opened during the outage (gauge 2 = open) and the participant said it was degraded.
    expect(samples.some((s) => s.state === '2')).toBe(true);
    expect(samples.some((s) => s.degraded)).toBe(true);
    const after = await participant.health();
    expect(after.degraded).toBe(false);
    expect(await metrics.getSingleMetricAsString('troupe_circuit_state')).toContain('circuit="card-api"} 0');

    // Every saga completed exactly once (read_committed, by ce_id); none failed, none dead-lettered.
    const records = await outcomes();
    const types = records.map((r) => headerString(r.headers, 'ce_type'));
    expect(types.filter((t) => t === Declined.name)).toHaveLength(0);
    const charged = records.filter((r) => headerString(r.headers, 'ce_type') === Charged.name);
    const eventIds = new Set(charged.map((r) => headerString(r.headers, 'ce_id')));
    const sagas = new Set(charged.map((r) => headerString(r.headers, 'ce_sagaid')));
    expect(charged).toHaveLength(ids.length);
    expect(eventIds.size).toBe(ids.length);
    expect(sagas).toEqual(new Set(ids));
    expect(await readTopicToEnd(kafka, `${topic}.dlq`)).toHaveLength(0);

    // Fetching paused at the bound: queued bytes never beyond the bound plus one fetch per partition.
    const maxBytes = Math.max(...samples.map((s) => s.queuedBytes));
    const maxRecords = Math.max(...samples.map((s) => s.queuedRecords));
    expect(maxBytes).toBeLessThanOrEqual(PARTITIONS * (MAX_QUEUED_BYTES + FETCH_OVERSHOOT));
    const mb = (n: number) => (n / 1024 / 1024).toFixed(1);
    const rss = samples.map((s) => s.rss);
    console.log(
      `[breaker] ${ids.length} sagas, card API down ${OUTAGE_MS / 1000} s: ${attempts} attempts, ${attemptsWhileDown} while down ` +
        `(${samples.filter((s) => s.state === '2').length} of ${samples.length} samples open); ` +
        `queues max ${maxRecords} records / ${mb(maxBytes)} MiB (bound ${PARTITIONS}×${MAX_QUEUED_RECORDS} records, ${PARTITIONS}×${MAX_QUEUED_BYTES / 1024} KiB); ` +
        `RSS ${mb(Math.min(...rss))}–${mb(Math.max(...rss))} MiB`,
    );
  });
});
