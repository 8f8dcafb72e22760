// Issue 10 item 4: dead-letter replay with one documented outcome (ADR 0012). A replay goes to the
// group that gave up only; a saga that already failed and compensates is refused by the tool and
// again by the participant (same instance and after a restart, knowledge rebuilt from the
// dead-letter topic); a saga that did not compensate is handled once; a second replay does not
// duplicate. One partition per topic, so "later on the partition" means "after the replay".
import { headerString } from '@troupe/core';
import { readTopicToEnd } from '@troupe/kafka';
import { Participant, Publisher, listDeadLetters, on, replayDeadLetters, replayRecords, runDlqCli, type KafkaTransport } from '@troupe/sdk';
import { SagaTracker } from '@troupe/saga-tracker';
import { kafkaBrokers } from '@troupe/testing';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { paymentHandlers, startSagaServices, type Ledger, type OrderSaga } from '../packages/sdk/src/participant/order-saga.fixture.js';
import { sagaOnKafka, silentLogger } from './fixtures/sdk-kafka.js';
import type { EventCodec } from '@troupe/schema-registry';

describe('dead-letter replay on a real broker', () => {
  let transport: KafkaTransport;
  let codec: EventCodec;
  let saga: OrderSaga;
  let ledger: Ledger;
  let suffix: string;
  let publisher: Publisher;
  let services: Participant[] = [];
  let audit: Participant | undefined;
  /** Orders the audit handler refuses (its bug), and what it audited. */
  const broken = new Set<string>();
  const audited: string[] = [];
  let sentinels = 0;

  const auditGroup = (): string => `audit-${suffix}`;
  /** Saga ids of this run: the shared broker keeps other runs' sagas (the tracker reads them too). */
  const sid = (name: string): string => `${name}-${suffix}`;
  const startAudit = async (): Promise<Participant> =>
    Participant.create({
      name: 'audit-service',
      groupId: auditGroup(),
      transport,
      codec,
      events: saga.all,
      logger: silentLogger,
      metricsRegistry: new Registry(),
      topics: { partitions: 1 },
      retry: { attempts: 2, initialDelayMs: 10, maxDelayMs: 20 },
      handlers: [
        on(saga.events.OrderPlaced, async ({ payload }) => {
          if (broken.has(payload.orderId)) throw new Error(`audit store rejects ${payload.orderId}`);
          audited.push(payload.orderId);
          await Promise.resolve();
        }),
      ],
    });

  beforeAll(async () => {
    ({ transport, codec, saga, ledger, suffix } = await sagaOnKafka('sdk-replay'));
    // No inbox for the saga's services: what keeps them from handling a replay meant for the audit
    // group is the replay's addressing alone.
    services = await startSagaServices({
      transport,
      codec,
      saga,
      ledger,
      logger: silentLogger,
      groupSuffix: suffix,
      overrides: { topics: { partitions: 1 }, inbox: false },
    });
    audit = await startAudit();
    publisher = await Publisher.create({
      transport,
      codec,
      source: 'order-service',
      contracts: [saga.contract],
      topics: { partitions: 1 },
    });
  });

  afterAll(async () => {
    await audit?.close();
    await Promise.all(services.map((s) => s.close()));
    await transport?.close();
  });

  const dlq = (): string => `${saga.events.OrderPlaced.topic}.dlq`;

  /** Distinct events (by ce_id, committed records) of a type and saga. */
  async function count(type: { name: string; topic: string }, sagaId: string): Promise<number> {
    const records = await readTopicToEnd(transport.kafka, type.topic);
    const ids = new Set(
      records
        .filter((r) => headerString(r.headers, 'ce_type') === type.name && headerString(r.headers, 'ce_sagaid') === sagaId)
        .map((r) => headerString(r.headers, 'ce_id')),
    );
    return ids.size;
  }

  async function until(what: string, predicate: () => Promise<boolean> | boolean, timeoutMs = 90_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await predicate())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** Publishes a fresh saga behind everything sent so far and waits until payment and audit handled it. */
  async function settle(): Promise<void> {
    const id = sid(`sentinel-${++sentinels}`);
    await publisher.publish(saga.events.OrderPlaced, { orderId: id, amount: 1 }, { sagaId: id });
    await until(`${id} to be handled`, async () => audited.includes(id) && (await count(saga.events.PaymentCharged, id)) === 1);
  }

  const deadLettersOf = async (sagaId: string) => listDeadLetters(transport, dlq(), { sagaId });

  it('refuses a replay of a saga that failed and compensated: at the tool, then at the participant on the same instance and after a restart', async () => {
    const e = saga.events;
    await publisher.publish(e.OrderPlaced, { orderId: 'giveup-payment-r1', amount: 3 }, { sagaId: sid('failed-1') });
    await until('PaymentDeclined of failed-1', async () => (await count(e.PaymentDeclined, sid('failed-1'))) === 1);
    await until('the dead letter of failed-1', async () => (await deadLettersOf(sid('failed-1'))).length === 1);
    const [dead] = await deadLettersOf(sid('failed-1'));
    if (!dead) throw new Error('no dead letter of failed-1');
    expect(dead.info).toMatchObject({ reason: 'HANDLER_FAILED', group: `payment-service-${suffix}`, failure: e.PaymentDeclined.name });

    // The tool reads the saga's dead letters and refuses, with the reason, sending nothing.
    const lines: string[] = [];
    const io = { out: (l: string) => lines.push(l), err: (l: string) => lines.push(l) };
    const code = await runDlqCli(['--brokers', kafkaBrokers().join(','), 'replay', dlq(), '--saga', sid('failed-1')], io);
    expect(code).toBe(1);
    expect(lines.join('\n')).toMatch(/REFUSED .*saga failed-1-\S+ already failed \(payment-service emitted test\.sdk\.PaymentDeclined/);
    expect(await count(e.OrderPlaced, sid('failed-1'))).toBe(1);

    // Past the tool (a hand-made replay), the participant refuses too: nothing runs, nothing is dead-lettered again.
    const replay = (): Promise<void> => {
      const r = replayRecords(dead.message, { group: dead.info.group, by: 'test', at: new Date().toISOString() });
      if (!r) throw new Error('not a dead letter');
      return transport.send([r.event]);
    };
    const charges = ledger.charges.filter((c) => c === 'giveup-payment-r1').length;
    await replay();
    await settle();
    expect(await count(e.PaymentCharged, sid('failed-1'))).toBe(0);
    expect(await count(e.PaymentDeclined, sid('failed-1'))).toBe(1);
    expect(await deadLettersOf(sid('failed-1'))).toHaveLength(1);

    // After a restart the participant knows it from the dead-letter topic.
    const [payment] = services;
    await payment?.close();
    services[0] = await Participant.create({
      name: 'payment-service',
      groupId: `payment-service-${suffix}`,
      transport,
      codec,
      handlers: paymentHandlers(saga, ledger),
      contracts: [saga.contract],
      events: saga.all,
      logger: silentLogger,
      metricsRegistry: new Registry(),
      topics: { partitions: 1 },
      inbox: false,
      retry: { attempts: 3, initialDelayMs: 10, maxDelayMs: 50 },
    });
    await replay();
    await settle();
    expect(await count(e.PaymentCharged, sid('failed-1'))).toBe(0);
    expect(await count(e.PaymentDeclined, sid('failed-1'))).toBe(1);
    expect(await deadLettersOf(sid('failed-1'))).toHaveLength(1);
    expect(ledger.charges.filter((c) => c === 'giveup-payment-r1')).toHaveLength(charges);
  });

  it('handles a replay of a saga that did not compensate once, in its own group only; a second replay does not duplicate', async () => {
    const e = saga.events;
    broken.add('audit-fail-1');
    await publisher.publish(e.OrderPlaced, { orderId: 'audit-fail-1', amount: 2 }, { sagaId: sid('dead-1') });
    await until('the audit dead letter of dead-1', async () => (await deadLettersOf(sid('dead-1'))).length === 1);
    const [dead] = await deadLettersOf(sid('dead-1'));
    expect(dead?.info).toMatchObject({ reason: 'HANDLER_FAILED', group: auditGroup(), failure: undefined });
    await until('payment of dead-1', async () => (await count(e.PaymentCharged, sid('dead-1'))) === 1);

    broken.delete('audit-fail-1'); // the handler is fixed (same instance)
    const first = await replayDeadLetters(transport, dlq(), { sagaId: sid('dead-1'), by: 'ops-alice' });
    expect(first.replayed.map((r) => r.info.group)).toEqual([auditGroup()]);
    expect(first.refused).toEqual([]);
    await settle();
    expect(audited.filter((o) => o === 'audit-fail-1')).toHaveLength(1);
    // Payment's group skipped the replay addressed to the audit group (it has no inbox here).
    expect(await count(e.PaymentCharged, sid('dead-1'))).toBe(1);
    expect(ledger.charges.filter((c) => c === 'audit-fail-1')).toHaveLength(1);

    // The replay is recorded next to the dead letter: who, when, to which group.
    const [listed] = await deadLettersOf(sid('dead-1'));
    expect(listed?.replays).toEqual([
      expect.objectContaining({ by: 'ops-alice', group: auditGroup(), of: `${dead?.partition}/${dead?.offset}` }),
    ]);

    // A second replay: the tool skips it; forced, the audit's inbox drops it.
    const second = await replayDeadLetters(transport, dlq(), { sagaId: sid('dead-1'), by: 'ops-bob' });
    expect(second.replayed).toEqual([]);
    expect(second.skipped[0]?.reason).toMatch(/replayed before, at .* by ops-alice/);
    const forced = await replayDeadLetters(transport, dlq(), { sagaId: sid('dead-1'), by: 'ops-bob', again: true });
    expect(forced.replayed).toHaveLength(1);
    await settle();
    expect(audited.filter((o) => o === 'audit-fail-1')).toHaveLength(1);
    expect(await count(e.PaymentCharged, sid('dead-1'))).toBe(1);
  });

  it('after a restart, still holds back the dead saga and handles its replays once, in order', async () => {
    const e = saga.events;
    broken.add('audit-fail-2');
    await publisher.publish(e.OrderPlaced, { orderId: 'audit-fail-2', amount: 2 }, { sagaId: sid('dead-2') });
    await until('the audit dead letter of dead-2', async () => (await deadLettersOf(sid('dead-2'))).length === 1);

    // Restart with the fixed handler: the new instance rebuilds what it gave up on from the DLQ.
    await audit?.close();
    broken.delete('audit-fail-2');
    audit = await startAudit();
    await publisher.publish(e.OrderPlaced, { orderId: 'audit-fail-2b', amount: 2 }, { sagaId: sid('dead-2') });
    await until('the later event of dead-2 held back', async () => (await deadLettersOf(sid('dead-2'))).length === 2);
    expect((await deadLettersOf(sid('dead-2'))).map((d) => d.info.reason)).toEqual(['HANDLER_FAILED', 'SAGA_DEAD_LETTERED']);
    expect(audited.filter((o) => o.startsWith('audit-fail-2'))).toEqual([]);

    const result = await replayDeadLetters(transport, dlq(), { sagaId: sid('dead-2'), group: auditGroup(), by: 'ops-alice' });
    expect(result.replayed).toHaveLength(2);
    await settle();
    expect(audited.filter((o) => o.startsWith('audit-fail-2'))).toEqual(['audit-fail-2', 'audit-fail-2b']);
  });

  it('the tracker shows a replayed saga truthfully: the dead letter with its replays, the saga not failed', async () => {
    const e = saga.events;
    const tracker = await SagaTracker.create({
      brokers: kafkaBrokers(),
      contracts: [saga.contract],
      topics: [e.OrderPlaced.topic, e.PaymentCharged.topic, e.InventoryReserved.topic, e.ShipmentScheduled.topic, dlq()],
      port: 0,
      logger: silentLogger,
    });
    try {
      type Detail = { status: string; deadLetters: { participant?: string; replays?: { by: string; group: string }[] }[] };
      let detail: Detail | undefined;
      await until('the tracker to see dead-1 replayed twice', async () => {
        const res = await fetch(`${tracker.url}/api/sagas/${sid('dead-1')}`);
        detail = res.ok ? ((await res.json()) as Detail) : undefined;
        return detail?.deadLetters[0]?.replays?.length === 2;
      });
      expect(detail?.deadLetters).toEqual([
        expect.objectContaining({
          replays: [
            expect.objectContaining({ by: 'ops-alice', group: auditGroup() }),
            expect.objectContaining({ by: 'ops-bob', group: auditGroup() }),
          ],
        }),
      ]);
      expect(detail?.status).not.toBe('failed');
      // The saga that failed stays failed: nothing was replayed into it.
      const failed = (await (await fetch(`${tracker.url}/api/sagas/${sid('failed-1')}`)).json()) as Detail;
      expect(failed.status).toBe('failed');
      expect(failed.deadLetters[0]?.replays).toBeUndefined();
    } finally {
      await tracker.close();
    }
  });
});
