import { parseEnvelope, type EventEnvelope } from '@troupe/core';
import { MemorySchemaRegistry, type EventType } from '@troupe/schema-registry';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { Participant } from '../participant/participant.js';
import { Publisher } from '../publisher/publisher.js';
import { MemoryTransport } from '../transport/memory/memory-transport.js';
import { readAbort } from './abort.js';
import { VirtualClock } from './clock.js';
import { requestAbort } from './control.js';
import { deadlineSaga, newDeadlineLedger, orderService, paymentService, shippingService } from './deadline-saga.fixture.js';

const HOUR = 3_600_000;
const logger = pino({ level: 'silent' });

describe('saga deadlines that act, in virtual time on the memory transport', () => {
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of closers.splice(0).reverse()) await c();
  });

  async function setup(suffix: string, onTimeout: 'abort' | 'fail-step' = 'abort') {
    const clock = new VirtualClock(Date.UTC(2026, 0, 1));
    const transport = await MemoryTransport.create({ clock });
    const codec = new MemorySchemaRegistry();
    const saga = deadlineSaga(suffix, HOUR, onTimeout);
    const ledger = newDeadlineLedger();
    const common = { transport, codec, contracts: [saga.contract], events: saga.all, logger, metricsRegistry: new Registry() };
    const order = orderService(saga);
    const services = [
      await Participant.create({ ...common, name: 'order-service', handlers: order.handlers, timeouts: order.timeouts }),
      await Participant.create({ ...common, name: 'payment-service', handlers: paymentService(saga, ledger) }),
      await Participant.create({ ...common, name: 'shipping-service', handlers: shippingService(saga, ledger) }),
    ];
    const publisher = await Publisher.create({ transport, codec, source: 'shop', contracts: [saga.contract] });
    closers.push(
      () => transport.close(),
      async () => void (await Promise.all(services.map((s) => s.close()))),
    );
    const events = (sagaId: string): { env: EventEnvelope; headers: Parameters<typeof readAbort>[0] }[] =>
      saga.all
        .map((t) => t.topic)
        .filter((t, i, all) => all.indexOf(t) === i)
        .flatMap((topic) => transport.records(topic))
        .map((r) => ({ env: parseEnvelope(r.headers), headers: r.headers }))
        .filter((x) => x.env.sagaId === sagaId);
    const types = (sagaId: string, type: EventType) => events(sagaId).filter((x) => x.env.type === type.name);
    const place = async (orderId: string) => {
      await publisher.publish(saga.events.OrderPlaced, { orderId }, { sagaId: orderId });
      await clock.settle();
    };
    return { clock, transport, saga, ledger, events, types, place, publisher };
  }

  it('aborts a saga whose step does not answer within its one-hour limit, and the earlier step compensates once', async () => {
    const { clock, saga, ledger, types, place } = await setup('within');
    const e = saga.events;
    const start = clock.now();
    await place('silent-1');
    expect(ledger.charges).toEqual(['silent-1']);
    await clock.advance('59m');
    expect(types('silent-1', e.OrderCancelled)).toEqual([]);
    await clock.advance('1m');
    const cancelled = types('silent-1', e.OrderCancelled);
    expect(cancelled).toHaveLength(1);
    expect(readAbort(cancelled[0]?.headers ?? {})).toEqual({
      cause: 'within',
      step: 'shipping',
      reason: 'step shipping did not answer within 1h',
      by: 'order-service',
    });
    expect(Date.parse(cancelled[0]?.env.time ?? '')).toBe(start + HOUR);
    expect(types('silent-1', e.PaymentRefunded)).toHaveLength(1);
    expect(ledger.refunds).toEqual(['silent-1']);
    // Virtual time: the clock moved an hour; nothing else happens later.
    expect(clock.now() - start).toBe(HOUR);
    await clock.advance('2h');
    expect(types('silent-1', e.OrderCancelled)).toHaveLength(1);
    expect(ledger.refunds).toEqual(['silent-1']);
  });

  it('leaves a saga whose steps answer in time alone', async () => {
    const { clock, saga, types, place } = await setup('in-time');
    await place('fast-1');
    await clock.advance('2h');
    expect(types('fast-1', saga.events.OrderCompleted)).toHaveLength(1);
    expect(types('fast-1', saga.events.OrderCancelled)).toEqual([]);
  });

  it('does not apply a completion that comes after the timeout: the saga is not completed and the late step compensates', async () => {
    const { clock, saga, ledger, types, place, publisher } = await setup('late');
    const e = saga.events;
    await place('silent-late');
    await clock.advance('1h');
    expect(types('silent-late', e.OrderCancelled)).toHaveLength(1);
    // The carrier answers after all; shipping emits its completion (with the log of its booking).
    await publisher.publish(
      e.ShipmentScheduled,
      { orderId: 'silent-late' },
      { sagaId: 'silent-late', role: 'step-completed', step: 'shipping' },
    );
    await clock.settle();
    expect(types('silent-late', e.OrderCompleted)).toEqual([]);
    const cancels = types('silent-late', e.OrderCancelled).map((x) => readAbort(x.headers)?.cause);
    expect(cancels).toEqual(['within', 'late']);
    // Payment refunded once (the late abort addresses shipping only).
    expect(ledger.refunds).toEqual(['silent-late']);
    expect(types('silent-late', e.PaymentRefunded)).toHaveLength(1);
  });

  it('with onTimeout: fail-step, emits the awaited step’s failure event, and the saga compensates as for any failure', async () => {
    const { clock, saga, ledger, types, place } = await setup('fail-step', 'fail-step');
    const e = saga.events;
    await place('silent-f');
    await clock.advance('1h');
    const failed = types('silent-f', e.ShipmentFailed);
    expect(failed).toHaveLength(1);
    expect(failed[0]?.env.sagaStep).toBe('shipping');
    expect(readAbort(failed[0]?.headers ?? {})?.cause).toBe('within');
    // The initiator's own reaction to the failure ends the saga; payment compensates on the failure.
    expect(types('silent-f', e.OrderCancelled)).toHaveLength(1);
    expect(ledger.refunds).toEqual(['silent-f']);
  });

  it('aborts a running saga at an operator’s request and refuses one that has ended', async () => {
    const { clock, transport, saga, ledger, types, place } = await setup('operator');
    const e = saga.events;
    await place('silent-op');
    await place('fast-op');
    const ask = (sagaId: string) =>
      requestAbort({ transport, sagaType: saga.contract.saga, sagaId, reason: 'customer called', by: 'alice', pollMs: 1 });
    const accepted = ask('silent-op');
    await clock.settle();
    expect(await accepted).toEqual({ status: 'accepted', message: 'saga silent-op aborted: OrderCancelled emitted' });
    const cancelled = types('silent-op', e.OrderCancelled);
    expect(cancelled.map((x) => readAbort(x.headers))).toEqual([
      { cause: 'operator', step: 'shipping', reason: 'customer called', by: 'alice' },
    ]);
    expect(ledger.refunds).toEqual(['silent-op']);
    const refused = ask('fast-op');
    await clock.settle();
    expect(await refused).toMatchObject({ status: 'refused' });
    expect((await refused).message).toMatch(/saga fast-op is not running/);
    expect(types('fast-op', e.OrderCancelled)).toEqual([]);
  });
});
