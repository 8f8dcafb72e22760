import { describe, expect, it } from 'vitest';
import { ORDER_CONTRACT, ORDER_CONTRACT_V2, T_START, chain, deadLettered, shuffled, withAbort } from '../order-saga.fixture.js';
import { ContractBook } from '../contract-book.js';
import { project } from './project.js';
import { stuckInfo } from '../stuck.js';

const happy = chain('o-1', ['placed', 'charged', 'reserved', 'scheduled', 'completed']);

describe('project with contract versions', () => {
  const book = new ContractBook([ORDER_CONTRACT_V2, ORDER_CONTRACT]);
  const at = (version: number | undefined, events: ReturnType<typeof chain>) =>
    events.map((e) => (version === undefined ? e : { ...e, sagaVersion: version }));
  const noShipping = chain('v-1', ['placed', 'charged', 'reserved', 'completed']);

  it('projects each saga with the version it started with, old and new side by side', () => {
    // Version 2 has no shipping step: the saga conforms and is complete.
    const v2 = project(at(2, noShipping), book.of);
    expect([v2.sagaVersion, v2.status, v2.hasContract, v2.steps.map((s) => s.name), v2.deviations]).toEqual([
      2,
      'completed',
      true,
      ['payment', 'inventory'],
      [],
    ]);
    // The same events under version 1 (no header: sagas started before versions) miss shipping.
    const v1 = project(noShipping, book.of);
    expect(v1.sagaVersion).toBeUndefined();
    expect(v1.steps.map((s) => s.name)).toEqual(['payment', 'inventory', 'shipping']);
    expect(v1.deviations.map((d) => d.kind)).toEqual(['missing-steps']);
  });

  it("follows the start event's version even when a later event says otherwise, and projects an unknown version without a contract", () => {
    const mixed = at(2, noShipping).map((e, i) => (i === 2 ? { ...e, sagaVersion: 1 } : e));
    expect(project(mixed, book.of).sagaVersion).toBe(2);
    const v9 = project(at(9, noShipping), book.of);
    expect([v9.sagaVersion, v9.hasContract]).toEqual([9, false]);
    expect(project(at(2, noShipping), ORDER_CONTRACT).hasContract).toBe(false);
  });
});

describe('project', () => {
  it('completes a saga whose steps all completed and whose end event is the completion', () => {
    const p = project(happy, ORDER_CONTRACT);
    expect(p.status).toBe('completed');
    expect(p.steps.map((s) => [s.name, s.status])).toEqual([
      ['payment', 'completed'],
      ['inventory', 'completed'],
      ['shipping', 'completed'],
    ]);
    expect(p.startedAt).toBe('2026-11-23T09:00:00.000Z');
    expect(p.endedAt).toBe('2026-11-23T09:00:04.000Z');
    expect(p.steps.map((s) => s.latencyMs)).toEqual([1000, 1000, 1000]);
    expect(p.awaiting).toEqual([]);
    expect(p.stuckAfter).toBeUndefined();
    expect(p.causal.edges).toHaveLength(4);
    expect(p.flow[0]).toEqual({ from: 'com.acme.orders.OrderPlaced', to: 'com.acme.payments.PaymentCharged', latencyMs: 1000 });
  });

  it('gives an identical projection for the same events delivered twice and in shuffled order', () => {
    const sagas = [
      happy,
      chain('o-2', ['placed', 'charged', 'outOfStock', 'refunded', 'cancelled']),
      chain('o-3', ['placed', 'charged', 'reserved', 'shipFailed', 'released', 'refundFailed']),
      chain('o-4', ['placed', 'charged']),
    ];
    for (const events of sagas) {
      const reference = project(events, ORDER_CONTRACT);
      for (let seed = 1; seed <= 25; seed++) {
        const twice = shuffled([...events, ...events.map((e) => ({ ...e, offset: String(Number(e.offset) + 100) }))], seed);
        expect(project(twice, ORDER_CONTRACT)).toEqual(reference);
      }
    }
  });

  it('keeps the same copy of a redelivered event whatever the arrival order', () => {
    const [placed] = happy;
    if (placed === undefined) throw new Error('fixture');
    const replayed = { ...placed, offset: '7' };
    const a = project([placed, replayed], ORDER_CONTRACT);
    const b = project([replayed, placed], ORDER_CONTRACT);
    expect(a).toEqual(b);
    expect(a.eventCount).toBe(1);
  });

  it('is compensating while a completed step awaits its compensation, then compensated', () => {
    const events = chain('o-5', ['placed', 'charged', 'outOfStock', 'refunded', 'cancelled']);
    const mid = project(events.slice(0, 3), ORDER_CONTRACT);
    expect(mid.status).toBe('compensating');
    expect(mid.compensations).toEqual({ expected: ['payment'], done: [], failed: [], leftToUndo: ['payment'] });
    expect(mid.awaiting).toEqual([
      {
        step: 'payment',
        events: ['com.acme.payments.PaymentRefunded'],
        participant: 'payment-service',
        since: '2026-11-23T09:00:02.000Z',
        dueBy: '2026-11-23T09:00:32.000Z',
      },
    ]);
    expect(mid.failures).toEqual([
      {
        kind: 'step-failed',
        eventId: 'o-5-2-outOfStock',
        type: 'com.acme.inventory.InventoryReservationFailed',
        time: '2026-11-23T09:00:02.000Z',
        step: 'inventory',
        participant: 'inventory-service',
        reason: 'out of stock',
      },
    ]);
    const end = project(events, ORDER_CONTRACT);
    expect(end.status).toBe('compensated');
    expect(end.compensations).toEqual({ expected: ['payment'], done: ['payment'], failed: [], leftToUndo: [] });
    expect(end.steps.find((s) => s.name === 'payment')?.status).toBe('compensated');
    expect(end.endEvent).toBe('com.acme.orders.OrderCancelled');
  });

  it('is compensated at once when the first step fails (nothing to undo)', () => {
    const p = project(chain('o-6', ['placed', 'declined']), ORDER_CONTRACT);
    expect(p.status).toBe('compensated');
    expect(p.compensations.expected).toEqual([]);
  });

  it('does not expect a compensation from a step the contract declares not compensable', () => {
    const p = project(chain('o-7', ['placed', 'charged', 'reserved', 'scheduled', 'outOfStock']), ORDER_CONTRACT);
    // inventory failed after shipping completed: payment needs a refund, shipping has no compensation.
    expect(p.compensations.expected).toEqual(['payment']);
  });

  it('fails when a compensation fails, naming participant and reason', () => {
    const p = project(chain('o-8', ['placed', 'charged', 'outOfStock', 'refundFailed']), ORDER_CONTRACT);
    expect(p.status).toBe('failed');
    expect(p.compensations.failed).toEqual(['payment']);
    expect(p.compensations.leftToUndo).toEqual(['payment']);
    expect(p.failures.map((f) => [f.kind, f.participant, f.reason])).toEqual([
      ['step-failed', 'inventory-service', 'out of stock'],
      ['compensation-failed', 'payment-service', 'bank offline'],
    ]);
    expect(p.endedAt).toBe('2026-11-23T09:00:03.000Z');
  });

  it('fails when an event was dead-lettered, keeping the original as progress', () => {
    const events = chain('o-9', ['placed', 'charged']);
    const charged = events[1];
    if (charged === undefined) throw new Error('fixture');
    const p = project([...events, deadLettered(charged)], ORDER_CONTRACT);
    expect(p.status).toBe('failed');
    expect(p.steps[0]?.status).toBe('completed');
    expect(p.deadLetters).toEqual([
      {
        eventId: charged.id,
        type: charged.type,
        topic: 'payments.dlq',
        time: charged.time,
        participant: 'inventory-service',
        reason: 'handler threw: boom',
      },
    ]);
    expect(p.causal.nodes.find((n) => n.id === charged.id)?.deadLettered).toBe(true);
    expect(p.eventCount).toBe(3);
  });

  it('shows a replayed dead letter with who replayed it, and the saga by what followed instead of failed', () => {
    const events = chain('o-11', ['placed', 'charged', 'reserved', 'scheduled', 'completed']);
    const charged = events[1];
    if (charged === undefined) throw new Error('fixture');
    const dead = deadLettered(charged);
    const note = {
      ...dead,
      offset: '1',
      deadLetter: {
        topic: 'payments.dlq',
        participant: 'inventory-g',
        headers: {},
        replay: { of: '0/0', group: 'inventory-g', by: 'alice', at: '2026-11-23T10:00:00.000Z' },
      },
    };
    const p = project([...events, dead, note], ORDER_CONTRACT);
    expect(p.status).toBe('completed');
    expect(p.deadLetters).toEqual([
      expect.objectContaining({ eventId: charged.id, replays: [{ at: '2026-11-23T10:00:00.000Z', by: 'alice', group: 'inventory-g' }] }),
    ]);
    // Without the replay note the same events say failed: the dead letter is an open failure.
    expect(project([...events, dead], ORDER_CONTRACT).status).toBe('failed');
  });

  it('shows a saga whose silent step timed out: who acted and why, compensated once the earlier steps undid theirs', () => {
    const timeout = { cause: 'within', step: 'shipping', reason: 'step shipping did not answer within 1m', by: 'order-service' } as const;
    const events = chain('o-t', ['placed', 'charged', 'reserved', 'cancelled', 'refunded', 'released']).map((e) =>
      e.role === 'end' ? withAbort(e, timeout) : e,
    );
    const mid = project(events.slice(0, 4), ORDER_CONTRACT);
    expect(mid.status).toBe('compensating');
    expect(mid.abort).toEqual({
      kind: 'timeout',
      ...timeout,
      eventId: 'o-t-3-cancelled',
      type: 'com.acme.orders.OrderCancelled',
      time: events[3]?.time,
    });
    const end = project(events, ORDER_CONTRACT);
    expect(end.status).toBe('compensated');
    expect(end.compensations.done).toEqual(['payment', 'inventory']);
    expect(end.deviations).toEqual([]);
    expect(end.failures).toEqual([]);

    // The carrier answers after all: the initiator asks shipping alone to undo it (cause late).
    const [late, again] = chain('o-t', ['scheduled', 'cancelled'], { startMs: Date.parse(events[5]?.time ?? '') + 1000 }).map((e, i) => ({
      ...e,
      id: `o-t-late-${i}`,
    }));
    const afterLate = project(
      [...events, late!, withAbort(again!, { cause: 'late', step: 'shipping', reason: 'completed late', by: 'order-service' })],
      ORDER_CONTRACT,
    );
    expect(afterLate.abort?.kind).toBe('timeout');
    expect(afterLate.abort?.eventId).toBe('o-t-3-cancelled');
    expect(afterLate.abort?.lateSteps).toEqual(['shipping']);
    // The late completion is a deviation worth seeing; the SDK's follow-up abort is not a second end.
    expect(afterLate.deviations.map((d) => [d.kind, d.type])).toEqual([['unexpected-event', 'com.acme.shipping.ShipmentScheduled']]);
  });

  it("shows an operator's abort with who asked and why", () => {
    const events = chain('o-op', ['placed', 'charged', 'cancelled', 'refunded']).map((e) =>
      e.role === 'end' ? withAbort(e, { cause: 'operator', step: 'inventory', reason: 'customer called', by: 'alice' }) : e,
    );
    const p = project(events, ORDER_CONTRACT);
    expect(p.status).toBe('compensated');
    expect(p.abort).toMatchObject({ kind: 'operator', cause: 'operator', step: 'inventory', reason: 'customer called', by: 'alice' });
    expect(project(chain('o-plain', ['placed', 'declined']), ORDER_CONTRACT).abort).toBeUndefined();
  });

  it("accepts a step's failure the initiator emitted on its behalf when its time ran out (onTimeout: fail-step)", () => {
    const events = chain('o-fs', ['placed', 'charged', 'reserved', 'shipFailed', 'refunded', 'released', 'cancelled']).map((e) =>
      e.role === 'step-failed'
        ? withAbort(
            { ...e, source: 'order-service', reason: 'step shipping did not answer within 1m' },
            { cause: 'within', step: 'shipping', reason: 'step shipping did not answer within 1m', by: 'order-service' },
          )
        : e,
    );
    const p = project(events, ORDER_CONTRACT);
    expect(p.status).toBe('compensated');
    expect(p.abort).toMatchObject({ kind: 'timeout', type: 'com.acme.shipping.ShipmentFailed', step: 'shipping' });
    expect(p.deviations).toEqual([]);
    expect(p.failures[0]?.reason).toBe('step shipping did not answer within 1m');
  });

  it('marks causation edges whose cause was not seen', () => {
    const events = chain('o-10', ['placed', 'charged', 'reserved']);
    const p = project(events.slice(1), ORDER_CONTRACT);
    expect(p.causal.edges).toEqual([
      { from: 'o-10-0-placed', to: 'o-10-1-charged', missing: true },
      { from: 'o-10-1-charged', to: 'o-10-2-reserved', missing: false },
    ]);
    expect(p.startEvent).toBeUndefined();
    expect(p.startedAt).toBe(events[1]?.time);
  });

  it('without a contract reports only observed steps and never a time limit', () => {
    const p = project(chain('o-11', ['placed', 'charged', 'outOfStock']));
    expect(p.hasContract).toBe(false);
    expect(p.status).toBe('compensating');
    expect(p.steps.map((s) => [s.name, s.status, s.declared])).toEqual([
      ['payment', 'completed', false],
      ['inventory', 'failed', false],
    ]);
    expect(p.stuckAfter).toBeUndefined();
    const ended = project(chain('o-12', ['placed', 'charged', 'reserved', 'scheduled', 'completed']));
    expect(ended.status).toBe('completed');
  });
});

describe('stuckInfo', () => {
  const running = project(chain('o-20', ['placed', 'charged']), ORDER_CONTRACT);

  it('is not stuck before the awaited step is due', () => {
    expect(running.stuckAfter).toBe('2026-11-23T09:00:31.000Z');
    expect(stuckInfo(running, Date.parse('2026-11-23T09:00:30.999Z'))).toEqual({ stuck: false });
  });

  it('names the step, the awaited events, the participant and since when', () => {
    const info = stuckInfo(running, Date.parse('2026-11-23T09:04:01.000Z'));
    expect(info).toEqual({
      stuck: true,
      reason:
        'waiting 4m for InventoryReserved or InventoryReservationFailed from inventory-service (step inventory) since 2026-11-23T09:00:01.000Z',
      step: 'inventory',
      awaiting: ['com.acme.inventory.InventoryReserved', 'com.acme.inventory.InventoryReservationFailed'],
      participant: 'inventory-service',
      since: '2026-11-23T09:00:01.000Z',
      overdueMs: 210_000,
      deadlinePassed: false,
    });
  });

  it('uses the saga deadline when every step is done but the end event never came', () => {
    const p = project(chain('o-21', ['placed', 'charged', 'reserved', 'scheduled']), ORDER_CONTRACT);
    expect(p.stuckAfter).toBe(new Date(T_START + 5 * 60_000).toISOString());
    const info = stuckInfo(p, T_START + 6 * 60_000);
    expect(info.stuck).toBe(true);
    expect(info.deadlinePassed).toBe(true);
    expect(info.participant).toBe('order-service');
    expect(info.awaiting).toEqual(['com.acme.orders.OrderCompleted']);
  });

  it('is never stuck once terminal', () => {
    expect(stuckInfo(project(happy, ORDER_CONTRACT), T_START + 3_600_000)).toEqual({ stuck: false });
  });
});
