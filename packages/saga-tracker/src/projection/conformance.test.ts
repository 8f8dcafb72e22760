import { describe, expect, it } from 'vitest';
import { ORDER_CONTRACT, chain, shuffled } from '../order-saga.fixture.js';
import type { TrackedEvent } from '../tracked-event.js';
import { project } from './project.js';

const kinds = (events: readonly TrackedEvent[]) => project(events, ORDER_CONTRACT).deviations.map((d) => [d.kind, d.step, d.eventId]);

describe('conformance', () => {
  it('finds nothing in sagas that follow the contract, including an early abort before compensation', () => {
    const sagas = [
      chain('c-1', ['placed', 'charged', 'reserved', 'scheduled', 'completed']),
      chain('c-2', ['placed', 'charged', 'outOfStock', 'refunded', 'cancelled']),
      chain('c-3', ['placed', 'charged', 'reserved', 'shipFailed', 'released', 'refundFailed']),
      chain('c-4', ['placed', 'charged']),
      chain('c-5', ['placed', 'declined', 'cancelled']),
      // The initiator cancels as soon as a step fails; compensations follow the end event.
      chain('c-6', ['placed', 'charged', 'outOfStock', 'cancelled', 'refunded']),
    ];
    for (const events of sagas) expect(kinds(events), events[0]?.sagaId).toEqual([]);
    // Without a contract there is nothing to deviate from.
    expect(project(chain('c-7', ['placed', 'reserved'])).deviations).toEqual([]);
  });

  it('flags an event type the contract does not know, and a step header that contradicts the contract', () => {
    const [placed, charged] = chain('c-10', ['placed', 'charged']);
    if (placed === undefined || charged === undefined) throw new Error('fixture');
    const foreign: TrackedEvent = {
      ...charged,
      id: 'c-10-x',
      type: 'com.acme.payments.PaymentAuthorised',
      time: '2026-11-23T09:00:05.000Z',
    };
    const misnamed: TrackedEvent = { ...charged, step: 'inventory' };
    expect(kinds([placed, misnamed, foreign])).toEqual([
      ['unexpected-event', 'payment', charged.id],
      ['unexpected-event', 'payment', 'c-10-x'],
    ]);
    expect(project([placed, foreign], ORDER_CONTRACT).deviations[0]?.message).toBe(
      'PaymentAuthorised is not an event of the order-fulfillment contract',
    );
  });

  it('flags an outcome emitted by a participant other than the step owner', () => {
    const events = chain('c-11', ['placed', 'charged', 'reserved']).map((e) =>
      e.step === 'inventory' ? { ...e, source: 'payment-service' } : e,
    );
    const p = project(events, ORDER_CONTRACT);
    expect(p.deviations).toEqual([
      {
        kind: 'wrong-participant',
        eventId: 'c-11-2-reserved',
        type: 'com.acme.inventory.InventoryReserved',
        time: '2026-11-23T09:00:02.000Z',
        source: 'payment-service',
        step: 'inventory',
        message: 'InventoryReserved was emitted by payment-service; the contract gives step inventory to inventory-service',
      },
    ]);
  });

  it('flags a second outcome of a step (a different event, not a redelivered copy)', () => {
    const events = chain('c-12', ['placed', 'charged', 'reserved', 'outOfStock']);
    const [, charged] = events;
    if (charged === undefined) throw new Error('fixture');
    const again: TrackedEvent = { ...charged, id: 'c-12-again', time: '2026-11-23T09:00:01.500Z' };
    const redelivered: TrackedEvent = { ...charged, offset: '99' };
    expect(kinds([...events, again, redelivered])).toEqual([
      ['duplicate-outcome', 'payment', 'c-12-again'],
      ['duplicate-outcome', 'inventory', 'c-12-3-outOfStock'],
    ]);
  });

  it('flags a completion end event while steps are missing', () => {
    const p = project(chain('c-13', ['placed', 'charged', 'completed']), ORDER_CONTRACT);
    expect(p.deviations.map((d) => [d.kind, d.message])).toEqual([
      ['missing-steps', 'OrderCompleted ended the saga without steps inventory, shipping completing'],
    ]);
  });

  it('flags a step outcome before an earlier step completed, but trusts causation over a skewed clock', () => {
    expect(kinds(chain('c-14', ['placed', 'reserved', 'charged']))).toEqual([['out-of-order', 'inventory', 'c-14-1-reserved']]);
    // inventory-service's clock runs 300 ms behind: its event is caused by the charge, so it is in order.
    const skewed = chain('c-15', ['placed', 'charged', 'reserved']).map((e) =>
      e.step === 'inventory' ? { ...e, time: '2026-11-23T09:00:00.700Z' } : e,
    );
    expect(kinds(skewed)).toEqual([]);
  });

  it('flags compensations that nothing called for, and events after the saga completed', () => {
    expect(kinds(chain('c-16', ['placed', 'charged', 'refunded']))).toEqual([['unexpected-event', 'payment', 'c-16-2-refunded']]);
    expect(kinds(chain('c-17', ['placed', 'outOfStock']))).toEqual([['out-of-order', 'inventory', 'c-17-1-outOfStock']]);
    expect(kinds(chain('c-18', ['placed', 'charged', 'reserved', 'scheduled', 'completed', 'refunded']))).toEqual([
      ['unexpected-event', 'payment', 'c-18-5-refunded'],
    ]);
  });

  it('gives the same deviations whatever the arrival order', () => {
    const events = chain('c-19', ['placed', 'reserved', 'charged', 'charged', 'completed']);
    const reference = project(events, ORDER_CONTRACT).deviations;
    expect(reference.length).toBeGreaterThan(0);
    for (let seed = 1; seed <= 10; seed++) expect(project(shuffled(events, seed), ORDER_CONTRACT).deviations).toEqual(reference);
  });
});
