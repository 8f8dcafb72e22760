import { describe, expect, it } from 'vitest';
import { ORDER_CONTRACT, ORDER_CONTRACT_PARALLEL, T_START, chain, shuffled } from '../order-saga.fixture.js';
import { stuckInfo } from '../stuck.js';
import { project } from './project.js';

const at = (s: number): string => new Date(T_START + s * 1000).toISOString();

describe('parallel groups and optional steps in the projection', () => {
  it('awaits every branch of a group at once, each with its own limit, and gives a stuck reason per branch', () => {
    const p = project(chain('p-1', ['placed']), ORDER_CONTRACT_PARALLEL);
    expect(p.status).toBe('running');
    expect(p.awaiting.map((a) => [a.step, a.participant, a.since, a.dueBy])).toEqual([
      ['payment', 'payment-service', at(0), at(30)],
      ['inventory', 'inventory-service', at(0), at(30)],
    ]);
    const stuck = stuckInfo(p, T_START + 31_000);
    expect(stuck.branches?.map((b) => [b.step, b.overdue])).toEqual([
      ['payment', true],
      ['inventory', true],
    ]);
    expect(stuck.reason).toBe(
      `waiting 31s for PaymentCharged or PaymentDeclined from payment-service (step payment) since ${at(0)}; ` +
        `waiting 31s for InventoryReserved or InventoryReservationFailed from inventory-service (step inventory) since ${at(0)}`,
    );
  });

  it('keeps awaiting the branch still open, then the step after the group from the later branch', () => {
    const one = project(chain('p-2', ['placed', 'reserved']), ORDER_CONTRACT_PARALLEL);
    expect(one.awaiting.map((a) => [a.step, a.since])).toEqual([['payment', at(0)]]);
    expect(one.deviations).toEqual([]); // inventory before payment: branches run in any order
    const both = project(chain('p-2', ['placed', 'reserved', 'charged']), ORDER_CONTRACT_PARALLEL);
    expect(both.awaiting.map((a) => [a.step, a.since, a.dueBy])).toEqual([['shipping', at(2), at(62)]]);
  });

  it('finds nothing in sagas that follow the parallel contract, in any arrival order', () => {
    const sagas = [
      chain('p-3', ['placed', 'charged', 'reserved', 'scheduled', 'completed']),
      chain('p-4', ['placed', 'reserved', 'charged', 'scheduled', 'completed']),
      chain('p-5', ['placed', 'charged', 'outOfStock', 'refunded', 'cancelled']),
      // Payment finished after its sibling had failed: both branches were running at once.
      chain('p-6', ['placed', 'outOfStock', 'charged', 'refunded', 'cancelled']),
      chain('p-7', ['placed', 'charged', 'reserved', 'shipFailed', 'released', 'refunded', 'cancelled']),
    ];
    for (const events of sagas) {
      const p = project(shuffled(events, 7), ORDER_CONTRACT_PARALLEL);
      expect(p.deviations, events[0]?.sagaId).toEqual([]);
      expect(p).toEqual(project(events, ORDER_CONTRACT_PARALLEL));
    }
    expect(project(sagas[3] ?? [], ORDER_CONTRACT_PARALLEL).status).toBe('compensated');
  });

  it('flags the step after the group when a branch had not finished, naming that branch only', () => {
    const p = project(chain('p-8', ['placed', 'charged', 'scheduled']), ORDER_CONTRACT_PARALLEL);
    expect(p.deviations.map((d) => [d.kind, d.step, d.message])).toEqual([
      ['out-of-order', 'shipping', 'ShipmentScheduled before step inventory completed'],
    ]);
  });

  it('lets a saga complete past an optional step that failed, compensating nothing', () => {
    const optional = { ...ORDER_CONTRACT, steps: ORDER_CONTRACT.steps.map((s) => (s.name === 'inventory' ? { ...s, optional: true } : s)) };
    const p = project(chain('p-9', ['placed', 'charged', 'outOfStock', 'scheduled', 'completed']), optional);
    expect(p.status).toBe('completed');
    expect(p.compensations.expected).toEqual([]);
    expect(p.deviations).toEqual([]);
    const running = project(chain('p-9', ['placed', 'charged', 'outOfStock']), optional);
    expect([running.status, running.awaiting.map((a) => [a.step, a.since])]).toEqual(['running', [['shipping', at(2)]]]);
    // Without the optional contract the same events are a failure to compensate.
    expect(project(chain('p-9', ['placed', 'charged', 'outOfStock']), ORDER_CONTRACT).status).toBe('compensating');
  });
});
