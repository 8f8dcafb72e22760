// The README's quick example, kept runnable: if this test changes, update README.md too.
import { expect, it } from 'vitest';
import { MemorySagaStore, buildTrackerApp, type TrackedEvent } from './index.js';

it('README example: project events, ask the API', async () => {
  const store = await MemorySagaStore.create();
  const base = { sagaId: 'order-4711', sagaType: 'order-fulfillment', partition: 0 } as const;
  const events: TrackedEvent[] = [
    { ...base, id: 'e1', type: 'com.acme.orders.OrderPlaced', role: 'start', source: 'order-service',
      time: '2026-11-23T09:00:00Z', topic: 'orders', offset: '0' },
    { ...base, id: 'e2', type: 'com.acme.payments.PaymentCharged', role: 'step-completed', step: 'payment',
      causationId: 'e1', source: 'payment-service', time: '2026-11-23T09:00:02Z', topic: 'payments', offset: '0' },
  ];
  await store.apply({ events });
  await store.apply({ events: [...events].reverse() }); // a replay changes nothing

  const app = buildTrackerApp({ store });
  const saga = (await app.inject({ method: 'GET', url: '/api/sagas/order-4711' })).json<{
    status: string;
    eventCount: number;
    steps: { name: string; status: string; latencyMs: number }[];
  }>();
  expect(saga.status).toBe('running');
  expect(saga.eventCount).toBe(2);
  expect(saga.steps).toEqual([expect.objectContaining({ name: 'payment', status: 'completed', latencyMs: 2000 })]);
  await app.close();
});
