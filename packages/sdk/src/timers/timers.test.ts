import { parseEnvelope } from '@troupe/core';
import { defineEventType, MemorySchemaRegistry, type EventType } from '@troupe/schema-registry';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { on } from '../participant/handlers.js';
import { Participant } from '../participant/participant.js';
import { Publisher } from '../publisher/publisher.js';
import { MemoryTransport } from '../transport/memory/memory-transport.js';
import { VirtualClock } from './clock.js';

interface Order {
  orderId: string;
}
const schema = (name: string) =>
  ({ type: 'record', name, namespace: 'test.timers', fields: [{ name: 'orderId', type: 'string' }] }) as const;
const types = (suffix: string) => ({
  OrderPlaced: defineEventType<Order>({ name: 'test.timers.OrderPlaced', topic: `t-orders-${suffix}`, schema: schema('OrderPlaced') }),
  PaymentReminder: defineEventType<Order>({
    name: 'test.timers.PaymentReminder',
    topic: `t-orders-${suffix}`,
    schema: schema('PaymentReminder'),
  }),
  PaymentReceived: defineEventType<Order>({
    name: 'test.timers.PaymentReceived',
    topic: `t-orders-${suffix}`,
    schema: schema('PaymentReceived'),
  }),
});

const HOUR = 3_600_000;

describe('durable timers and virtual time on the memory transport', () => {
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of closers.splice(0).reverse()) await c();
  });

  async function setup(suffix: string) {
    const clock = new VirtualClock(Date.UTC(2026, 0, 1));
    const transport = await MemoryTransport.create({ clock });
    const codec = new MemorySchemaRegistry();
    const e = types(suffix);
    const all: EventType[] = Object.values(e);
    const participant = await Participant.create({
      name: 'billing',
      transport,
      codec,
      events: all,
      timers: {},
      logger: pino({ level: 'silent' }),
      metricsRegistry: new Registry(),
      handlers: [
        on(e.OrderPlaced, async ({ payload, ctx }) => {
          await ctx.schedule(e.PaymentReminder, payload, { after: '15m', id: 'reminder' });
        }),
        on(e.PaymentReceived, ({ ctx }) => {
          ctx.cancelSchedule('reminder');
          return Promise.resolve();
        }),
      ],
    });
    const publisher = await Publisher.create({ transport, codec, source: 'shop' });
    closers.push(
      () => transport.close(),
      () => participant.close(),
    );
    const reminders = (sagaId: string) =>
      transport
        .records(e.OrderPlaced.topic)
        .map((r) => ({ r, env: parseEnvelope(r.headers) }))
        .filter(({ env }) => env.type === e.PaymentReminder.name && env.sagaId === sagaId);
    const publish = async (type: EventType<Order>, orderId: string) => {
      await publisher.publish(type, { orderId }, { sagaId: orderId, sagaType: 'billing' });
      await clock.settle();
    };
    return { clock, transport, e, publish, reminders };
  }

  it('emits a scheduled event once when its time comes, not before', async () => {
    const { clock, e, publish, reminders } = await setup('fire');
    const start = clock.now();
    await publish(e.OrderPlaced, 'o-1');
    await clock.advance('14m');
    expect(reminders('o-1')).toEqual([]);
    await clock.advance('1m');
    const fired = reminders('o-1');
    expect(fired).toHaveLength(1);
    expect(Date.parse(fired[0]?.env.time ?? '')).toBe(start + 15 * 60_000);
    await clock.advance('1h');
    expect(reminders('o-1')).toHaveLength(1);
  });

  it('emits nothing for a schedule cancelled before it fires', async () => {
    const { clock, e, publish, reminders } = await setup('cancel');
    await publish(e.OrderPlaced, 'o-2');
    await clock.advance('5m');
    await publish(e.PaymentReceived, 'o-2');
    await clock.advance('1h');
    expect(reminders('o-2')).toEqual([]);
  });

  it('tests an hour of timers in virtual time: the clock moved an hour, the wall clock barely', async () => {
    const { clock, e, publish, reminders } = await setup('hour');
    const start = clock.now();
    for (let i = 0; i < 20; i++) await publish(e.OrderPlaced, `o-h-${i}`);
    await clock.advance('1h');
    expect(clock.now() - start).toBe(HOUR);
    for (let i = 0; i < 20; i++) expect(reminders(`o-h-${i}`)).toHaveLength(1);
  });
});
