// Issue 14 item 7: webhook alerts for stuck, failed, compensation-failed and non-conforming sagas,
// each sent once, from events read on a real broker.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { SagaContract } from '@troupe/core';
import { SagaTracker, type SagaAlert } from '@troupe/saga-tracker';
import { kafkaBrokers, uniqueName, waitForValue } from '@troupe/testing';
import { SagaEventWriter, createSagaTopics, orderEvents, type SagaTopics } from './fixtures/tracker-kafka.js';
import { contracts } from './generated/events.js';

const CONTRACT: SagaContract = {
  ...contracts['order-fulfillment'],
  steps: contracts['order-fulfillment'].steps.map((s) =>
    s.name === 'payment' ? { ...s, compensationFailed: 'com.acme.payments.PaymentRefundFailed' } : s,
  ),
};

describe('tracker webhook alerts on a real broker', () => {
  let topics: SagaTopics;
  let writer: SagaEventWriter;
  let tracker: SagaTracker | undefined;
  let hook: Server;
  const received: SagaAlert[] = [];
  const run = uniqueName('alrt');

  beforeAll(async () => {
    topics = await createSagaTopics('trk-alerts');
    writer = await SagaEventWriter.create();
    hook = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        received.push(JSON.parse(body) as SagaAlert);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    await tracker?.close();
    await writer.close();
    await new Promise((resolve) => hook.close(resolve));
  });

  it('calls the webhook once per alert, whatever the number of checks and events', async () => {
    const ev = orderEvents(topics);
    const refundFailed = { ...ev.refunded, type: 'com.acme.payments.PaymentRefundFailed', role: 'compensation-failed' as const };
    const now = Date.now();
    const chain = (id: string, specs: Parameters<typeof SagaEventWriter.chain>[1], startMs = now - 5_000) =>
      SagaEventWriter.chain(`${run}-${id}`, specs, { startMs });
    await writer.send([
      ...chain('ok', [ev.placed, ev.charged, ev.reserved, ev.scheduled, ev.completed]),
      ...chain('compfail', [ev.placed, ev.charged, ev.outOfStock, { ...refundFailed, extraHeaders: { troupe_reason: 'bank offline' } }]),
      ...chain('stuck', [ev.placed, ev.charged], now - 10 * 60_000),
      ...chain('deviating', [ev.placed, ev.charged, ev.completed]),
    ]);
    const url = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/alerts`;
    tracker = await SagaTracker.create({
      brokers: kafkaBrokers(),
      contracts: [CONTRACT],
      topics: [topics.orders, topics.payments, topics.inventory, topics.shipping],
      // Deviations seen while another topic lags (this test writes four topics at once) must
      // not alert: only those still there fifteen seconds later do (generous for a loaded machine).
      alerts: { url, checkIntervalMs: 200, deviationGraceMs: 15_000 },
      port: 0,
      logger: pino({ level: 'silent' }),
    });
    const mine = () => received.filter((a) => a.sagaId.startsWith(`${run}-`));
    await waitForValue(() => (mine().length >= 3 ? true : undefined), { description: 'three alerts', timeoutMs: 60_000 });
    // More checks and a redelivered event raise nothing new.
    const alerts = tracker.alerts;
    if (alerts === undefined) throw new Error('alerts were configured');
    await alerts.check();
    await alerts.check();
    await writer.send(chain('compfail', [ev.placed]));
    await alerts.check();
    const ok = (await (await fetch(`${tracker.url}/api/sagas/${run}-ok`)).json()) as { deviations: unknown[] };
    expect(ok.deviations).toEqual([]);
    expect(
      mine()
        .map((a) => [a.kind, a.sagaId.slice(run.length + 1)])
        .sort(),
    ).toEqual([
      ['compensation-failed', 'compfail'],
      ['non-conforming', 'deviating'],
      ['stuck', 'stuck'],
    ]);
    const byKind = Object.fromEntries(mine().map((a) => [a.kind, a]));
    expect(byKind['compensation-failed']).toMatchObject({
      status: 'failed',
      sagaType: 'order-fulfillment',
      reason: 'compensation-failed in payment: bank offline',
    });
    // Whichever of its events were read when the check ran, the saga has waited ten minutes.
    expect(byKind['stuck']?.reason).toMatch(/^waiting 10m( \d+s)? for /);
    expect(byKind['non-conforming']?.reason).toBe('deviations: missing-steps');
  });
});
