// Bulkheads and circuit breakers on the memory transport: the same semantics users' unit tests get.
import { defineEventType, MemorySchemaRegistry } from '@troupe/schema-registry';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { SdkError } from '../errors.js';
import { on, step } from '../participant/handlers.js';
import { Participant } from '../participant/participant.js';
import { Publisher } from '../publisher/publisher.js';
import { MemoryTransport } from '../transport/memory/memory-transport.js';
import { VirtualClock } from '../timers/clock.js';

interface Ev {
  id: string;
}
const schema = (name: string) => ({ type: 'record' as const, name, namespace: 'test.flowctl', fields: [{ name: 'id', type: 'string' }] });
const silent = pino({ level: 'silent' });

async function until(predicate: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('flow control on the memory transport', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.reverse()) await fn();
    cleanup.length = 0;
  });

  it('bulkhead: at most `concurrency` attempts of a handler at once, sagas side by side, each saga in order', async () => {
    const transport = await MemoryTransport.create();
    cleanup.push(() => transport.close());
    const codec = new MemorySchemaRegistry();
    const A = defineEventType<Ev>({ name: 'test.flowctl.A', topic: 'flowctl-bulk', schema: schema('A') });
    const B = defineEventType<Ev>({ name: 'test.flowctl.B', topic: 'flowctl-bulk', schema: schema('B') });
    const inFlight = { A: 0, B: 0 };
    const maxInFlight = { A: 0, B: 0, all: 0 };
    const perSaga = new Map<string, string[]>();
    const slow = async (type: 'A' | 'B', id: string): Promise<void> => {
      inFlight[type] += 1;
      maxInFlight[type] = Math.max(maxInFlight[type], inFlight[type]);
      maxInFlight.all = Math.max(maxInFlight.all, inFlight.A + inFlight.B);
      await new Promise((r) => setTimeout(r, 5));
      perSaga.set(id, [...(perSaga.get(id) ?? []), type]);
      inFlight[type] -= 1;
    };
    // Published before the participant starts: one batch holds them all.
    const publisher = await Publisher.create({ transport, codec, source: 'test', topics: { partitions: 1 } });
    for (let i = 0; i < 20; i++) await publisher.publish(A, { id: `s${i}` }, { sagaId: `s${i}`, sagaType: 't' });
    for (let i = 0; i < 20; i++) await publisher.publish(B, { id: `s${i}` }, { sagaId: `s${i}`, sagaType: 't' });
    const p = await Participant.create({
      name: 'bulk',
      transport,
      codec,
      logger: silent,
      metricsRegistry: new Registry(),
      topics: { partitions: 1 },
      handlers: [on(A, ({ payload }) => slow('A', payload.id), { concurrency: 2 }), on(B, ({ payload }) => slow('B', payload.id))],
    });
    cleanup.push(() => p.close());
    await until(() => [...perSaga.values()].filter((l) => l.length === 2).length === 20, 'both events of 20 sagas');
    // One partition: the sagas of the batch ran side by side; A's bulkhead held A to 2 at once.
    expect(maxInFlight.A).toBe(2);
    expect(maxInFlight.all).toBeGreaterThan(2);
    for (const [, types] of perSaga) expect(types).toEqual(['A', 'B']);
  });

  it('circuit breaker: a downstream outage pauses the events instead of dead-lettering and compensating; all complete after', async () => {
    const transport = await MemoryTransport.create({ redeliveryDelayMs: 5 });
    cleanup.push(() => transport.close());
    const codec = new MemorySchemaRegistry();
    const topic = 'flowctl-cb';
    const Requested = defineEventType<Ev>({ name: 'test.flowctl.Requested', topic, schema: schema('Requested') });
    const Done = defineEventType<Ev>({ name: 'test.flowctl.Done', topic: `${topic}-out`, schema: schema('Done') });
    const Failed = defineEventType<Ev>({ name: 'test.flowctl.Failed', topic: `${topic}-out`, schema: schema('Failed') });
    let down = true;
    let attempts = 0;
    const metrics = new Registry();
    const p = await Participant.create({
      name: 'cb',
      transport,
      codec,
      logger: silent,
      metricsRegistry: metrics,
      topics: { partitions: 3 },
      retry: { attempts: 3, initialDelayMs: 1, maxDelayMs: 5 },
      circuitBreaker: { openMs: 50 },
      handlers: [
        step({
          name: 'charge',
          on: Requested,
          completed: Done,
          failed: Failed,
          downstream: 'payments-api',
          handle: async ({ payload, ctx }) => {
            attempts += 1;
            if (down) throw new SdkError('TRANSPORT_ERROR', 'payments-api unreachable');
            return ctx.complete(payload);
          },
          onGiveUp: ({ payload }) => payload,
        }),
      ],
    });
    cleanup.push(() => p.close());
    const publisher = await Publisher.create({ transport, codec, source: 'test', topics: { partitions: 3 } });
    for (let i = 0; i < 30; i++) await publisher.publish(Requested, { id: `s${i}` }, { sagaId: `s${i}`, sagaType: 't' });

    await until(async () => (await p.health()).degraded, 'the breaker to open');
    const health = await p.health();
    expect(health.ready).toBe(true);
    expect(health.details['circuit payments-api']).toMatch(/^(open|half-open) since/);
    expect(await metrics.getSingleMetricAsString('troupe_circuit_state')).toMatch(/circuit="payments-api"} [12]/);
    const attemptsWhileOpen = attempts;
    await new Promise((r) => setTimeout(r, 300));
    // Only probes while open, one per openMs at most: the retries are not burnt.
    expect(attempts - attemptsWhileOpen).toBeLessThan(30);

    down = false;
    const outs = (): string[] => transport.records(`${topic}-out`).map((m) => m.headers['ce_type']?.toString() ?? '');
    await until(() => outs().length >= 30, '30 outcomes');
    expect(outs().filter((t) => t === Done.name)).toHaveLength(30);
    expect(transport.records(`${topic}.dlq`)).toHaveLength(0);
    await until(async () => !(await p.health()).degraded, 'the breaker to close');
    expect(await metrics.getSingleMetricAsString('troupe_circuit_state')).toContain('circuit="payments-api"} 0');
  });

  it('circuit breaker on virtual time: while open no attempt runs; each time openMs passes, one probe; closed by a success', async () => {
    const clock = new VirtualClock();
    const transport = await MemoryTransport.create({ clock });
    cleanup.push(() => transport.close());
    const codec = new MemorySchemaRegistry();
    const topic = 'flowctl-cb-virtual';
    const Requested = defineEventType<Ev>({ name: 'test.flowctl.VRequested', topic, schema: schema('VRequested') });
    const Done = defineEventType<Ev>({ name: 'test.flowctl.VDone', topic: `${topic}-out`, schema: schema('VDone') });
    const Failed = defineEventType<Ev>({ name: 'test.flowctl.VFailed', topic: `${topic}-out`, schema: schema('VFailed') });
    let down = true;
    let attempts = 0;
    const p = await Participant.create({
      name: 'cbv',
      transport,
      codec,
      logger: silent,
      metricsRegistry: new Registry(),
      topics: { partitions: 2 },
      retry: { attempts: 3, initialDelayMs: 1, maxDelayMs: 2 },
      circuitBreaker: { openMs: 60_000 },
      handlers: [
        step({
          name: 'charge',
          on: Requested,
          completed: Done,
          failed: Failed,
          handle: async ({ payload, ctx }) => {
            attempts += 1;
            if (down) throw new SdkError('TRANSPORT_ERROR', 'payments-api unreachable');
            return ctx.complete(payload);
          },
          onGiveUp: ({ payload }) => payload,
        }),
      ],
    });
    cleanup.push(() => p.close());
    const publisher = await Publisher.create({ transport, codec, source: 'test', topics: { partitions: 2 } });
    for (let i = 0; i < 10; i++) await publisher.publish(Requested, { id: `v${i}` }, { sagaId: `v${i}`, sagaType: 't' });
    await until(async () => (await p.health()).degraded, 'the breaker to open');
    await clock.settle();
    const atOpen = attempts;
    // Time does not move: the open breaker lets nothing through, however long the test waits.
    await clock.advance('59s');
    expect(attempts).toBe(atOpen);
    // openMs passed: exactly one probe, which fails and opens the breaker again.
    await clock.advance('1s');
    expect(attempts).toBe(atOpen + 1);
    await clock.advance('60s');
    expect(attempts).toBe(atOpen + 2);
    down = false;
    await clock.advance('60s');
    const outs = (): string[] => transport.records(`${topic}-out`).map((m) => m.headers['ce_type']?.toString() ?? '');
    await until(async () => {
      await clock.advance('1s');
      return outs().length >= 10;
    }, '10 outcomes');
    expect(outs().filter((t) => t === Done.name)).toHaveLength(10);
    expect(transport.records(`${topic}.dlq`)).toHaveLength(0);
    expect((await p.health()).degraded).toBe(false);
  });

  it("bulkhead overflow: a full handler's events move to the retry topic, the other handler's events go on, each saga in order", async () => {
    const transport = await MemoryTransport.create({ redeliveryDelayMs: 5 });
    cleanup.push(() => transport.close());
    const codec = new MemorySchemaRegistry();
    const topic = 'flowctl-overflow';
    const Slow = defineEventType<Ev>({ name: 'test.flowctl.Slow', topic, schema: schema('Slow') });
    const Fast = defineEventType<Ev>({ name: 'test.flowctl.Fast', topic, schema: schema('Fast') });
    const order = new Map<string, string[]>();
    const seen = (type: string, id: string): void => void order.set(id, [...(order.get(id) ?? []), type]);
    const publisher = await Publisher.create({ transport, codec, source: 'test', topics: { partitions: 1 } });
    // Saga s<i>: Slow then Fast; saga f<i>: Fast only.
    for (let i = 0; i < 10; i++) {
      await publisher.publish(Slow, { id: `s${i}` }, { sagaId: `s${i}`, sagaType: 't' });
      await publisher.publish(Fast, { id: `f${i}` }, { sagaId: `f${i}`, sagaType: 't' });
    }
    for (let i = 0; i < 10; i++) await publisher.publish(Fast, { id: `s${i}` }, { sagaId: `s${i}`, sagaType: 't' });
    const p = await Participant.create({
      name: 'overflow',
      transport,
      codec,
      logger: silent,
      metricsRegistry: new Registry(),
      topics: { partitions: 1 },
      retryTopic: { delayMs: 10 },
      handlers: [
        on(
          Slow,
          async ({ payload }) => {
            await new Promise((r) => setTimeout(r, 300));
            seen('Slow', payload.id);
          },
          { concurrency: 1, overflow: 'retry-topic' },
        ),
        on(Fast, ({ payload }) => Promise.resolve(seen('Fast', payload.id))),
      ],
    });
    cleanup.push(() => p.close());
    await until(() => [...order.values()].flat().length === 30, 'all 30 events handled');
    for (let i = 0; i < 10; i++) expect(order.get(`s${i}`)).toEqual(['Slow', 'Fast']);
    // Some Slow events overflowed (and the Fast events of their sagas queued behind them).
    expect(transport.records('overflow.retry').length).toBeGreaterThan(0);
    expect(transport.records(`${topic}.dlq`)).toHaveLength(0);
  });

  it('refuses a breaker that cannot open before an event alone uses up its retries', async () => {
    const transport = await MemoryTransport.create();
    cleanup.push(() => transport.close());
    const A = defineEventType<Ev>({ name: 'test.flowctl.C', topic: 'flowctl-cfg', schema: schema('C') });
    await expect(
      Participant.create({
        name: 'cfg',
        transport,
        codec: new MemorySchemaRegistry(),
        logger: silent,
        metricsRegistry: new Registry(),
        retry: { attempts: 2 },
        handlers: [on(A, () => Promise.resolve(), { circuitBreaker: { consecutiveFailures: 5 }, concurrency: 0, overflow: 'retry-topic' })],
      }),
    ).rejects.toThrow(
      /on:test.flowctl.C.concurrency must be an integer >= 1.*consecutiveFailures \(5\) is above retry.attempts \(2\).*overflow 'retry-topic' needs the participant's retryTopic/,
    );
  });
});
