import type { AbortHeaders, SagaContract, SagaRole } from '@troupe/core';
import type { TrackedEvent } from './tracked-event.js';

/** The order-fulfillment contract of `schemas/sagas/`, as the loader yields it. */
export const ORDER_CONTRACT: SagaContract = {
  saga: 'order-fulfillment',
  initiator: 'order-service',
  start: 'com.acme.orders.OrderPlaced',
  deadlineMs: 5 * 60_000,
  steps: [
    {
      name: 'payment',
      participant: 'payment-service',
      completed: 'com.acme.payments.PaymentCharged',
      failed: 'com.acme.payments.PaymentDeclined',
      compensated: 'com.acme.payments.PaymentRefunded',
      compensationFailed: 'com.acme.payments.PaymentRefundFailed',
      withinMs: 30_000,
    },
    {
      name: 'inventory',
      participant: 'inventory-service',
      completed: 'com.acme.inventory.InventoryReserved',
      failed: 'com.acme.inventory.InventoryReservationFailed',
      compensated: 'com.acme.inventory.InventoryReleased',
      withinMs: 30_000,
    },
    {
      name: 'shipping',
      participant: 'shipping-service',
      completed: 'com.acme.shipping.ShipmentScheduled',
      failed: 'com.acme.shipping.ShipmentFailed',
      withinMs: 60_000,
      onTimeout: 'abort',
    },
  ],
  end: { completed: 'com.acme.orders.OrderCompleted', aborted: 'com.acme.orders.OrderCancelled' },
};

/** The order saga with payment ∥ inventory (group `reserve`), then shipping (ADR 0017). */
export const ORDER_CONTRACT_PARALLEL: SagaContract = {
  ...ORDER_CONTRACT,
  steps: ORDER_CONTRACT.steps.map((s) => (s.name === 'shipping' ? s : { ...s, parallel: 'reserve' })),
};

/** Version 2 of the order saga: no shipping step (say, digital goods), running beside version 1. */
export const ORDER_CONTRACT_V2: SagaContract = { ...ORDER_CONTRACT, version: 2, steps: ORDER_CONTRACT.steps.slice(0, 2) };

const T0 = Date.parse('2026-11-23T09:00:00.000Z');

interface Spec {
  readonly type: string;
  readonly role: SagaRole;
  readonly source: string;
  readonly topic: string;
  readonly step?: string;
  readonly reason?: string;
}

const S = {
  placed: { type: 'com.acme.orders.OrderPlaced', role: 'start', source: 'order-service', topic: 'orders' },
  charged: {
    type: 'com.acme.payments.PaymentCharged',
    role: 'step-completed',
    source: 'payment-service',
    topic: 'payments',
    step: 'payment',
  },
  declined: {
    type: 'com.acme.payments.PaymentDeclined',
    role: 'step-failed',
    source: 'payment-service',
    topic: 'payments',
    step: 'payment',
    reason: 'card declined',
  },
  refunded: {
    type: 'com.acme.payments.PaymentRefunded',
    role: 'compensated',
    source: 'payment-service',
    topic: 'payments',
    step: 'payment',
  },
  refundFailed: {
    type: 'com.acme.payments.PaymentRefundFailed',
    role: 'compensation-failed',
    source: 'payment-service',
    topic: 'payments',
    step: 'payment',
    reason: 'bank offline',
  },
  reserved: {
    type: 'com.acme.inventory.InventoryReserved',
    role: 'step-completed',
    source: 'inventory-service',
    topic: 'inventory',
    step: 'inventory',
  },
  outOfStock: {
    type: 'com.acme.inventory.InventoryReservationFailed',
    role: 'step-failed',
    source: 'inventory-service',
    topic: 'inventory',
    step: 'inventory',
    reason: 'out of stock',
  },
  released: {
    type: 'com.acme.inventory.InventoryReleased',
    role: 'compensated',
    source: 'inventory-service',
    topic: 'inventory',
    step: 'inventory',
  },
  scheduled: {
    type: 'com.acme.shipping.ShipmentScheduled',
    role: 'step-completed',
    source: 'shipping-service',
    topic: 'shipping',
    step: 'shipping',
  },
  shipFailed: {
    type: 'com.acme.shipping.ShipmentFailed',
    role: 'step-failed',
    source: 'shipping-service',
    topic: 'shipping',
    step: 'shipping',
    reason: 'no carrier',
  },
  completed: { type: 'com.acme.orders.OrderCompleted', role: 'end', source: 'order-service', topic: 'orders' },
  cancelled: { type: 'com.acme.orders.OrderCancelled', role: 'end', source: 'order-service', topic: 'orders' },
} as const satisfies Record<string, Spec>;

export type Kind = keyof typeof S;

/**
 * Builds a causal chain of events for one saga: each event is caused by the previous one and
 * happens `gapMs` later. Offsets count per topic so copies look like real Kafka records.
 */
export function chain(sagaId: string, kinds: readonly Kind[], opts: { gapMs?: number; startMs?: number } = {}): TrackedEvent[] {
  const gap = opts.gapMs ?? 1000;
  let t = opts.startMs ?? T0;
  let prev: string | undefined;
  const offsets = new Map<string, number>();
  return kinds.map((k, i) => {
    const s: Spec = S[k];
    const id = `${sagaId}-${i}-${k}`;
    const off = offsets.get(s.topic) ?? 0;
    offsets.set(s.topic, off + 1);
    const e: TrackedEvent = {
      id,
      type: s.type,
      source: s.source,
      time: new Date(t).toISOString(),
      sagaId,
      sagaType: 'order-fulfillment',
      role: s.role,
      ...(s.step !== undefined ? { step: s.step } : {}),
      ...(prev !== undefined ? { causationId: prev } : {}),
      ...(s.reason !== undefined ? { reason: s.reason } : {}),
      topic: s.topic,
      partition: 0,
      offset: String(off),
    };
    prev = id;
    t += gap;
    return e;
  });
}

export const T_START = T0;

/** A dead-letter copy of `e`, as read from `topic`. */
export function deadLettered(e: TrackedEvent, topic = 'payments.dlq', reason = 'handler threw: boom'): TrackedEvent {
  return {
    ...e,
    time: e.time,
    topic,
    offset: '0',
    deadLetter: { topic, reason, participant: 'inventory-service', headers: { 'x-error': reason } },
  };
}

/** `e` as the SDK emits it when time ran out or an operator aborted (the `troupe_abort_*` headers, read). */
export function withAbort(e: TrackedEvent, abort: AbortHeaders): TrackedEvent {
  return { ...e, abort };
}

/** Deterministic shuffle (mulberry32) so a failing order can be reproduced from its seed. */
export function shuffled<T>(items: readonly T[], seed: number): T[] {
  let a = seed >>> 0;
  const rand = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}
