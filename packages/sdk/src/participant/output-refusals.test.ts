import { headerString } from '@troupe/core';
import { MemorySchemaRegistry } from '@troupe/schema-registry';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { DLQ_HEADER } from '../dead-letter/dead-letter.js';
import { SdkError } from '../errors.js';
import { MemoryTransport } from '../transport/memory/memory-transport.js';
import type { InboundMessage, Transport } from '../transport/transport.js';
import { participantHealth } from './health.js';
import { newLedger, orderSaga, startSagaServices, type OrderSaga } from './order-saga.fixture.js';
import { OutputRefusals, oversizedOutput, refusalOf } from './output-refusals.js';
import { recordSize, recordSizeBound } from '../transport/record-size.js';
import { Publisher } from '../publisher/publisher.js';

const silent = pino({ level: 'silent' });
const msg = (offset: number): InboundMessage => ({
  topic: 't',
  partition: 0,
  offset: String(offset),
  key: null,
  value: null,
  headers: {},
  timestamp: '0',
});
const tooLarge = Object.assign(new Error('The request included a message larger than the max message size the server will accept'), {
  type: 'MESSAGE_TOO_LARGE',
  retriable: false,
});

describe('refusalOf', () => {
  it("names the broker's reason for refusals of the records themselves, also when wrapped", () => {
    expect(refusalOf(tooLarge)).toMatch(/^MESSAGE_TOO_LARGE: The request included/);
    expect(refusalOf(Object.assign(new Error('wrapped'), { originalError: { type: 'TOPIC_AUTHORIZATION_FAILED', message: 'no' } }))).toBe(
      'TOPIC_AUTHORIZATION_FAILED: no',
    );
    expect(refusalOf(new SdkError('OUTPUT_REFUSED', 'MESSAGE_TOO_LARGE: x'))).toBe('MESSAGE_TOO_LARGE: x');
  });

  it('is undefined for trouble a retry can fix', () => {
    expect(refusalOf(Object.assign(new Error('leader moved'), { type: 'NOT_LEADER_FOR_PARTITION' }))).toBeUndefined();
    expect(refusalOf(new Error('socket closed'))).toBeUndefined();
  });
});

describe('OutputRefusals', () => {
  it('splits a refused batch into single records, then gives up on the record the broker refuses', () => {
    const r = new OutputRefusals();
    r.commitFailed(0, [msg(1), msg(2), msg(3)], tooLarge);
    expect(r.batchLimit(0)).toBe(1);
    r.committed(0, [msg(1)]);
    expect(r.batchLimit(0)).toBe(1);
    r.commitFailed(0, [msg(2)], tooLarge);
    expect(r.of(msg(2))).toMatchObject({ times: 1 });
    r.commitFailed(0, [msg(2)], tooLarge);
    expect(r.of(msg(2))).toMatchObject({ times: 2 });
    r.committed(0, [msg(2)]);
    r.committed(0, [msg(3)]);
    expect([r.batchLimit(0), r.of(msg(2))]).toEqual([undefined, undefined]);
  });

  it('ignores failures that are not refusals', () => {
    const r = new OutputRefusals();
    r.commitFailed(0, [msg(1), msg(2)], new Error('coordinator not available'));
    expect([r.batchLimit(0), r.of(msg(1))]).toEqual([undefined, undefined]);
  });
});

describe('outputs the broker refuses, on the memory transport', () => {
  const run = async (transport: Transport, memory: MemoryTransport, saga: OrderSaga) => {
    const codec = new MemorySchemaRegistry();
    const ledger = newLedger();
    const services = await startSagaServices({ transport, codec, saga, ledger, logger: silent });
    const publisher = await Publisher.create({ transport, codec, source: 'order-service', contracts: [saga.contract] });
    try {
      await publisher.publish(saga.events.OrderPlaced, { orderId: 'huge-shipping-1', amount: 1 }, { sagaId: 'h-1' });
      await publisher.publish(saga.events.OrderPlaced, { orderId: 'after-1', amount: 1 }, { sagaId: 'h-2' });
      const types = (sagaId: string) =>
        saga.all
          .map((e) => e.topic)
          .filter((t, i, all) => all.indexOf(t) === i)
          .flatMap((t) => memory.records(t))
          .filter((m) => headerString(m.headers, 'ce_sagaid') === sagaId)
          .map((m) => headerString(m.headers, 'ce_type'));
      const deadline = Date.now() + 10_000;
      while (
        Date.now() < deadline &&
        !(types('h-1').includes(saga.events.PaymentRefunded.name) && types('h-2').includes(saga.events.ShipmentScheduled.name))
      )
        await new Promise((r) => setTimeout(r, 10));
      const failed = memory
        .records(saga.events.ShipmentFailed.topic)
        .filter((m) => headerString(m.headers, 'ce_type') === saga.events.ShipmentFailed.name);
      const dlq = memory.records(`${saga.events.InventoryReserved.topic}.dlq`);
      return { h1: types('h-1'), h2: types('h-2'), failed, dlq };
    } finally {
      await Promise.all(services.map((s) => s.close()));
    }
  };

  it('checks the size before sending: the step emits its failure event with the reason, compensation runs, later sagas flow', async () => {
    const memory = await MemoryTransport.create();
    const saga = orderSaga('big');
    const { h1, h2, dlq } = await run(memory, memory, saga);
    expect(h1).toContain(saga.events.ShipmentFailed.name);
    expect(h1).toContain(saga.events.PaymentRefunded.name);
    expect(h1).not.toContain(saga.events.ShipmentScheduled.name);
    expect(h2).toContain(saga.events.ShipmentScheduled.name);
    expect(dlq.map((m) => headerString(m.headers, DLQ_HEADER.reason))).toEqual(['OUTPUT_REFUSED']);
    expect(headerString(dlq[0]?.headers, DLQ_HEADER.error)).toContain('MESSAGE_TOO_LARGE');
    await memory.close();
  });

  it('without a known limit, a refused commit is isolated to its record and given up with the refusal', async () => {
    const memory = await MemoryTransport.create();
    // A transport that cannot say its topics' limits: only the append's refusal tells.
    const blind = new Proxy(memory, { get: (t, k) => (k === 'maxMessageBytes' ? undefined : (Reflect.get(t, k, t) as unknown)) });
    const saga = orderSaga('big2');
    const { h1, h2, dlq } = await run(blind, memory, saga);
    expect(h1).toContain(saga.events.ShipmentFailed.name);
    expect(h1).not.toContain(saga.events.ShipmentScheduled.name);
    expect(h2).toContain(saga.events.ShipmentScheduled.name);
    expect(dlq.map((m) => headerString(m.headers, DLQ_HEADER.reason))).toEqual(['OUTPUT_REFUSED']);
    await memory.close();
  });
});

describe('readiness', () => {
  it("names a stalled partition's last commit failure", async () => {
    const transport = { ping: () => Promise.resolve() } as unknown as Transport;
    const consumer = {
      isRunning: () => true,
      assignment: () => [],
      lag: () => Promise.resolve(5),
      stop: () => Promise.resolve(),
      workers: () => [{ partition: 2, queued: 5, lastProgressAt: 0, lastError: 'MESSAGE_TOO_LARGE: too big' }],
    };
    const h = await participantHealth({
      closed: false,
      consumer,
      transport,
      lastProgressAt: 0,
      opts: { groupId: 'g', maxBatchMs: 500, handlerTimeoutMs: 30_000 },
    });
    expect(h.ready).toBe(false);
    expect(h.details['stalledPartitions']).toContain('last commit failed: MESSAGE_TOO_LARGE: too big');
  });
});

describe('oversizedOutput', () => {
  it('refuses exactly the outputs whose exact size is over their topic limit', () => {
    const small = { topic: 't', key: 'k', value: Buffer.alloc(10), headers: { h: 'é'.repeat(100) } };
    const exact = recordSize(small);
    // The bound is over the limit here, the exact size is not: not refused.
    expect(recordSizeBound(small)).toBeGreaterThan(exact);
    expect(oversizedOutput([small], new Map([['t', exact]]))).toBeUndefined();
    expect(oversizedOutput([small], new Map([['t', exact - 1]]))?.code).toBe('OUTPUT_REFUSED');
    expect(oversizedOutput([small], new Map([['t', exact - 1]]))?.message).toContain(`takes ${exact} bytes`);
    // No known limit: nothing is refused.
    expect(oversizedOutput([small], new Map())).toBeUndefined();
  });
});
