// Durable timers on a real broker: ctx.schedule fires once and never early, a cancelled schedule
// emits nothing, and timers survive the SIGKILL of the instance that owned them (each fires
// exactly once, counted by ce_id among read_committed records).
import { fileURLToPath } from 'node:url';
import { parseEnvelope } from '@troupe/core';
import { MemorySchemaRegistry } from '@troupe/schema-registry';
import { KafkaTransport, Participant, Publisher, readTopicToEnd, type InboundMessage } from '@troupe/sdk';
import { kafkaBrokers, uniqueName, waitForValue } from '@troupe/testing';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { startChildParticipant, type ChildParticipant } from './fixtures/sdk-child-process.js';
import { silentLogger } from './fixtures/sdk-kafka.js';
import { billingEvents, billingHandlers, registerBilling, type BillingEvents } from './fixtures/timer-saga.js';

const CHILD = fileURLToPath(new URL('./fixtures/timer-participant-child.ts', import.meta.url));

interface Seen {
  readonly type: string;
  readonly sagaId: string;
  readonly id: string;
  readonly timestamp: number;
}

const seen = (records: readonly InboundMessage[]): Seen[] =>
  records.map((r) => {
    const env = parseEnvelope(r.headers);
    return { type: env.type, sagaId: env.sagaId, id: env.id, timestamp: Number(r.timestamp) };
  });

describe('durable timers on a real broker', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
  });

  async function kafka(b: BillingEvents) {
    const transport = await KafkaTransport.create({ brokers: kafkaBrokers(), logger: silentLogger, redeliveryDelayMs: 50 });
    cleanup.push(() => transport.close());
    const codec = new MemorySchemaRegistry();
    await registerBilling(codec, b);
    const publisher = await Publisher.create({ transport, codec, source: 'shop', topics: { partitions: 6 } });
    const read = async () => seen(await readTopicToEnd(transport.kafka, b.topic));
    return { transport, codec, publisher, read };
  }

  it('fires a scheduled event once, not before its time, and emits nothing for a cancelled one', async () => {
    const b = billingEvents(uniqueName('timers-schedule'));
    const { transport, codec, publisher, read } = await kafka(b);
    const participant = await Participant.create({
      name: 'billing',
      groupId: uniqueName('billing'),
      transport,
      codec,
      events: b.all,
      handlers: billingHandlers(b, 3000, 2000),
      timers: {},
      topics: { partitions: 6 },
      logger: silentLogger,
      metricsRegistry: new Registry(),
    });
    cleanup.push(() => participant.close());
    const e = b.events;
    await publisher.publish(e.OrderPlaced, { orderId: 'kept' }, { sagaId: 'kept', sagaType: 'billing' });
    await publisher.publish(e.OrderPlaced, { orderId: 'paid' }, { sagaId: 'paid', sagaType: 'billing' });
    await publisher.publish(e.PaymentReceived, { orderId: 'paid' }, { sagaId: 'paid', sagaType: 'billing' });
    // The sentinel of a saga is due after its reminder and fires in the same or a later transaction.
    const all = await waitForValue(
      async () => {
        const events = await read();
        return events.filter((x) => x.type === e.Sentinel.name).length === 2 ? events : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500, description: 'both sentinels' },
    );
    const of = (sagaId: string, type: string) => all.filter((x) => x.sagaId === sagaId && x.type === type);
    const reminders = of('kept', e.PaymentReminder.name);
    expect(reminders).toHaveLength(1);
    expect(of('paid', e.PaymentReminder.name)).toEqual([]);
    const placed = of('kept', e.OrderPlaced.name)[0];
    expect(reminders[0]?.timestamp).toBeGreaterThanOrEqual((placed?.timestamp ?? 0) + 3000);
  });

  it('fires each of 300 timers exactly once and none early when the instance owning them is SIGKILLed', async () => {
    const suffix = uniqueName('timers-kill');
    const b = billingEvents(suffix);
    const { publisher, read } = await kafka(b);
    const group = uniqueName('billing-kill');
    const DELAY = 5_000;
    const start = (): ChildParticipant => {
      const child = startChildParticipant(
        {
          KAFKA_BROKERS: kafkaBrokers().join(','),
          SAGA_SUFFIX: suffix,
          GROUP: group,
          DELAY_MS: String(DELAY),
        },
        CHILD,
      );
      cleanup.push(async () => {
        if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill('SIGKILL');
        await child.exited;
      });
      return child;
    };
    const a = start();
    const bChild = start();
    await Promise.all([a, bChild].map((c) => c.waitForLine((l) => l === 'READY', 'READY')));
    const ids = Array.from({ length: 300 }, (_, i) => `t-${i}`);
    // Spread over a few seconds, so the kill finds timers fired, due and not yet due.
    for (let i = 0; i < ids.length; i += 30) {
      await Promise.all(
        ids.slice(i, i + 30).map((id) => publisher.publish(b.events.OrderPlaced, { orderId: id }, { sagaId: id, sagaType: 'billing' })),
      );
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    const reminded = async () => (await read()).filter((x) => x.type === b.events.PaymentReminder.name).length;
    await waitForValue(async () => ((await reminded()) >= 30 ? true : undefined), {
      timeoutMs: 60_000,
      intervalMs: 200,
      description: 'the first reminders',
    });
    const remindedAtKill = await reminded();
    a.process.kill('SIGKILL');
    await a.exited;
    const events = await waitForValue(
      async () => {
        const all = await read();
        return new Set(all.filter((x) => x.type === b.events.PaymentReminder.name).map((x) => x.sagaId)).size >= 300 ? all : undefined;
      },
      { timeoutMs: 180_000, intervalMs: 1000, description: '300 reminders' },
    );
    const reminders = events.filter((x) => x.type === b.events.PaymentReminder.name);
    // Exactly once: one record per ce_id, one ce_id per saga.
    const byId = new Map<string, number>();
    for (const r of reminders) byId.set(r.id, (byId.get(r.id) ?? 0) + 1);
    expect([...byId.values()].filter((n) => n !== 1)).toEqual([]);
    expect(reminders).toHaveLength(300);
    expect(new Set(reminders.map((r) => r.sagaId)).size).toBe(300);
    // None early: fired no sooner than the delay after its OrderPlaced was appended.
    const placedAt = new Map(events.filter((x) => x.type === b.events.OrderPlaced.name).map((x) => [x.sagaId, x.timestamp]));
    const early = reminders.filter((r) => r.timestamp < (placedAt.get(r.sagaId) ?? Infinity) + DELAY);
    expect(early).toEqual([]);
    // The kill came while timers were pending.
    expect(remindedAtKill).toBeLessThan(300);
  });
});
