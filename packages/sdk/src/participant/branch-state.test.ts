import type { EventEnvelope } from '@troupe/core';
import { describe, expect, it } from 'vitest';
import type { TimerService } from '../timers/timer-service.js';
import { BatchBranches, needsBranchState } from './branch-state.js';
import { orderSaga } from './order-saga.fixture.js';
import type { AnyStep, Route } from './routes.js';

const saga = orderSaga('b', 'parallel');
// Committed records are none here: each case runs within one batch, which sees its own outputs.
const timers = { topic: 'g.timers', get: () => undefined } as unknown as TimerService;
const env = { sagaId: 's-1' } as EventEnvelope;
const def = (name: string, parallel?: string): AnyStep => ({ name, parallel, compensate: () => Promise.resolve() }) as unknown as AnyStep;
const stepRoute = (name: string, parallel?: string, join?: { branches: string[][]; branch: number }): Extract<Route, { kind: 'step' }> => ({
  kind: 'step',
  label: `step:${name}`,
  reader: saga.events.OrderPlaced,
  def: def(name, parallel),
  ...(join ? { join } : {}),
});
const compensateRoute = (name: string): Route => ({
  kind: 'compensate',
  label: `compensate:${name}`,
  reader: saga.events.ReservationFailed,
  def: def(name, 'reserve'),
});

describe('BatchBranches', () => {
  it('runs a join on its last branch with the slips merged, once; an earlier or repeated branch only records', () => {
    const b = new BatchBranches(timers, 0, () => 1000);
    const branches = [['test.sdk.PaymentCharged'], ['test.sdk.InventoryReserved']];
    const first = b.gate(stepRoute('shipping', undefined, { branches, branch: 0 }), env, { payment: { chargeId: 'c' } });
    expect(first).toMatchObject({ run: false, reason: 'waiting for 1 more branch of the parallel group' });
    b.note('s-1', first.outputs);
    const again = b.gate(stepRoute('shipping', undefined, { branches, branch: 0 }), env, { payment: { chargeId: 'c' } });
    expect(again).toMatchObject({ run: false, outputs: [], reason: 'branch 1 of the join had its outcome already' });
    const last = b.gate(stepRoute('shipping', undefined, { branches, branch: 1 }), env, { inventory: { reservationId: 'r' } });
    expect(last.run && last.slip).toEqual({ payment: { chargeId: 'c' }, inventory: { reservationId: 'r' } });
    expect(last.outputs.map((r) => [r.key?.toString(), r.value])).toEqual([['s-1/join:shipping', null]]); // decided: the record goes
  });

  it('does not start a branch whose compensation already ran (its sibling failed first), and undoes a branch once', () => {
    const b = new BatchBranches(timers, 0, () => 1000);
    const early = b.compensationLog(compensateRoute('payment'), env, {});
    expect(early.slip).toEqual({}); // never completed here: nothing to undo
    b.note('s-1', early.after);
    const late = b.gate(stepRoute('payment', 'reserve'), env, {});
    expect(late.run).toBe(false);
    expect(!late.run && late.reason).toContain('already compensates');

    const c = new BatchBranches(timers, 0, () => 1000);
    const done = c.completed(stepRoute('payment', 'reserve'), env, [
      { topic: 'payments', key: 's-1', value: Buffer.from(''), headers: { troupe_logs: JSON.stringify({ payment: { chargeId: 'c' } }) } },
    ]);
    c.note('s-1', done);
    const undo = c.compensationLog(compensateRoute('payment'), env, {});
    expect(undo.slip).toEqual({ payment: { chargeId: 'c' } });
    c.note('s-1', undo.after);
    expect(c.compensationLog(compensateRoute('payment'), env, {}).slip).toEqual({}); // a second trigger finds it undone
  });

  it('is needed by the owner of a join or of a compensable branch only', () => {
    expect(['payment-service', 'inventory-service', 'shipping-service'].map((p) => needsBranchState(p, [saga.contract]))).toEqual([
      true,
      true,
      true,
    ]);
    expect(needsBranchState('shipping-service', [orderSaga('b').contract])).toBe(false);
  });
});
