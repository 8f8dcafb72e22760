// Deadlines that act, on a real broker: a saga whose shipping step never answers is aborted at its
// limit and its earlier step compensates once; a late completion is not applied; `troupe-saga
// abort` aborts a running saga and is refused for an ended one. Events are counted by ce_id among
// read_committed records.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseEnvelope, type KafkaHeaders } from '@troupe/core';
import { MemorySchemaRegistry } from '@troupe/schema-registry';
import { KafkaTransport, Participant, Publisher, readAbort, readTopicToEnd } from '@troupe/sdk';
import { kafkaBrokers, uniqueName, waitForValue } from '@troupe/testing';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import {
  deadlineSaga,
  newDeadlineLedger,
  orderService,
  paymentService,
  shippingService,
} from '../packages/sdk/src/timers/deadline-saga.fixture.js';
import { silentLogger } from './fixtures/sdk-kafka.js';

const run = promisify(execFile);
const CLI = fileURLToPath(new URL('../packages/sdk/bin/troupe-saga.js', import.meta.url));

interface Seen {
  readonly type: string;
  readonly sagaId: string;
  readonly id: string;
  readonly timestamp: number;
  readonly headers: KafkaHeaders;
}

describe('saga deadlines and aborts on a real broker', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
  });

  async function start(prefix: string, withinMs: number) {
    const suffix = uniqueName(prefix);
    const saga = deadlineSaga(suffix, withinMs);
    const transport = await KafkaTransport.create({ brokers: kafkaBrokers(), logger: silentLogger, redeliveryDelayMs: 50 });
    cleanup.push(() => transport.close());
    const codec = new MemorySchemaRegistry();
    const ledger = newDeadlineLedger();
    const common = {
      transport,
      codec,
      contracts: [saga.contract],
      events: saga.all,
      logger: silentLogger,
      metricsRegistry: new Registry(),
      topics: { partitions: 3 },
    };
    const order = orderService(saga);
    const services = await Promise.all([
      Participant.create({
        ...common,
        name: 'order-service',
        groupId: `order-${suffix}`,
        handlers: order.handlers,
        timeouts: order.timeouts,
      }),
      Participant.create({ ...common, name: 'payment-service', groupId: `payment-${suffix}`, handlers: paymentService(saga, ledger) }),
      Participant.create({ ...common, name: 'shipping-service', groupId: `shipping-${suffix}`, handlers: shippingService(saga, ledger) }),
    ]);
    cleanup.push(() => Promise.all(services.map((s) => s.close())));
    const publisher = await Publisher.create({ transport, codec, source: 'shop', contracts: [saga.contract] });
    const topics = [...new Set(saga.all.map((t) => t.topic))];
    const read = async (): Promise<Seen[]> =>
      (await Promise.all(topics.map((t) => readTopicToEnd(transport.kafka, t)))).flat().map((r) => {
        const env = parseEnvelope(r.headers);
        return { type: env.type, sagaId: env.sagaId, id: env.id, timestamp: Number(r.timestamp), headers: r.headers };
      });
    return { saga, ledger, publisher, read };
  }

  /** Events of a saga of one type, one per ce_id (a duplicate record would show as a second entry). */
  const of = (events: readonly Seen[], sagaId: string, type: { name: string }) =>
    events.filter((e) => e.sagaId === sagaId && e.type === type.name);
  const distinctIds = (events: readonly Seen[]) => new Set(events.map((e) => e.id)).size;

  const waitFor = (read: () => Promise<Seen[]>, done: (events: Seen[]) => boolean, description: string) =>
    waitForValue(
      async () => {
        const events = await read();
        return done(events) ? events : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 500, description },
    );

  it('aborts a saga whose shipping step never answers at its limit; payment compensates once; a late completion is not applied', async () => {
    const LIMIT = 4000;
    const { saga, ledger, publisher, read } = await start('deadline-within', LIMIT);
    const e = saga.events;
    await publisher.publish(e.OrderPlaced, { orderId: 'silent-1' }, { sagaId: 'silent-1' });
    await publisher.publish(e.OrderPlaced, { orderId: 'fast-1' }, { sagaId: 'fast-1' });
    const events = await waitFor(
      read,
      (all) => of(all, 'silent-1', e.PaymentRefunded).length > 0 && of(all, 'fast-1', e.OrderCompleted).length > 0,
      'the silent saga refunded and the fast one completed',
    );
    const cancelled = of(events, 'silent-1', e.OrderCancelled);
    expect(cancelled).toHaveLength(1);
    expect(readAbort(cancelled[0]?.headers ?? {})).toEqual({
      cause: 'within',
      step: 'shipping',
      reason: 'step shipping did not answer within 4s',
      by: 'order-service',
    });
    // Not before the limit: shipping's limit starts when the initiator sees PaymentCharged.
    const charged = of(events, 'silent-1', e.PaymentCharged)[0];
    expect(cancelled[0]?.timestamp).toBeGreaterThanOrEqual((charged?.timestamp ?? Infinity) + LIMIT);
    expect(of(events, 'silent-1', e.PaymentRefunded)).toHaveLength(1);
    expect(distinctIds(of(events, 'silent-1', e.PaymentRefunded))).toBe(1);
    expect(ledger.refunds).toEqual(['silent-1']);
    expect(of(events, 'fast-1', e.OrderCancelled)).toEqual([]);

    // The carrier answers after all: the completion is not applied (no OrderCompleted); the late step is asked to compensate.
    await publisher.publish(e.ShipmentScheduled, { orderId: 'silent-1' }, { sagaId: 'silent-1', role: 'step-completed', step: 'shipping' });
    const after = await waitFor(read, (all) => of(all, 'silent-1', e.OrderCancelled).length >= 2, 'the late answer handled');
    expect(of(after, 'silent-1', e.OrderCancelled).map((x) => readAbort(x.headers)?.cause)).toEqual(['within', 'late']);
    expect(of(after, 'silent-1', e.OrderCompleted)).toEqual([]);
    expect(of(after, 'silent-1', e.PaymentRefunded)).toHaveLength(1);
  });

  it('troupe-saga abort aborts a running saga (compensated once) and is refused for one that has ended', async () => {
    const { saga, ledger, publisher, read } = await start('deadline-operator', 10 * 60_000);
    const e = saga.events;
    await publisher.publish(e.OrderPlaced, { orderId: 'silent-op' }, { sagaId: 'silent-op' });
    await publisher.publish(e.OrderPlaced, { orderId: 'fast-op' }, { sagaId: 'fast-op' });
    await waitFor(
      read,
      (all) => of(all, 'silent-op', e.PaymentCharged).length > 0 && of(all, 'fast-op', e.OrderCompleted).length > 0,
      'one saga waiting for shipping and one completed',
    );
    const cli = (sagaId: string) =>
      run(
        process.execPath,
        [CLI, 'abort', sagaId, '--saga', saga.contract.saga, '--reason', 'customer called', '--by', 'alice', '--json'],
        {
          env: { ...process.env, KAFKA_BROKERS: kafkaBrokers().join(',') },
        },
      ).then(
        (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
        (err: { code?: number; stdout?: string; stderr?: string }) => ({
          code: err.code ?? -1,
          stdout: err.stdout ?? '',
          stderr: err.stderr ?? '',
        }),
      );
    const accepted = await cli('silent-op');
    expect(accepted.code, accepted.stderr).toBe(0);
    expect(JSON.parse(accepted.stdout)).toMatchObject({ sagaId: 'silent-op', status: 'accepted' });
    const events = await waitFor(read, (all) => of(all, 'silent-op', e.PaymentRefunded).length > 0, 'the aborted saga refunded');
    const cancelled = of(events, 'silent-op', e.OrderCancelled);
    expect(cancelled.map((x) => readAbort(x.headers))).toEqual([
      { cause: 'operator', step: 'shipping', reason: 'customer called', by: 'alice' },
    ]);
    expect(ledger.refunds).toEqual(['silent-op']);

    const refused = await cli('fast-op');
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.stdout)).toMatchObject({ sagaId: 'fast-op', status: 'refused' });
    const again = await cli('silent-op');
    expect(again.code).toBe(1);
    expect((JSON.parse(again.stdout) as { message: string }).message).toMatch(/already ended/);
    const final = await read();
    expect(of(final, 'fast-op', e.OrderCancelled)).toEqual([]);
    expect(of(final, 'silent-op', e.OrderCancelled)).toHaveLength(1);
  });
});
