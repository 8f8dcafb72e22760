import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SagaHarness } from '@troupe/testing';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { DLQ_HEADER, readDeadLetter, readTopicToEnd, replayDeadLetters, type KafkaTransport, type Participant } from '@troupe/sdk';
import { kafkaBrokers } from '@troupe/testing';
import { headerString, toHeaders } from '@troupe/core';
import { type EventCodec } from '@troupe/schema-registry';
import { startSagaServices, type Ledger, type OrderSaga } from '../packages/sdk/src/participant/order-saga.fixture.js';
import { sagaOnKafka, silentLogger } from './fixtures/sdk-kafka.js';

describe('failure handling on a real broker', () => {
  let transport: KafkaTransport;
  let codec: EventCodec;
  let saga: OrderSaga;
  let ledger: Ledger;
  let services: Participant[] = [];
  let harness: SagaHarness;

  beforeAll(async () => {
    ({ transport, codec, saga, ledger } = await sagaOnKafka('sdk-fail'));
    // One partition: poison and good events share it, so "the partition keeps flowing" is tested.
    services = await startSagaServices({ transport, codec, saga, ledger, logger: silentLogger, overrides: { topics: { partitions: 1 } } });
    harness = await SagaHarness.create({ transport, codec, events: saga.all, contracts: [saga.contract], partitions: 1 });
  });

  afterAll(async () => {
    await Promise.all(services.map((s) => s.close()));
    await harness?.close();
    await transport?.close();
  });

  it('a handler that throws after its side effect: side effect once, emitted event once', async () => {
    const e = saga.events;
    await harness.publish(e.OrderPlaced, { orderId: 'throw-payment-1', amount: 3 }, { sagaId: 'redeliver-1' });
    await harness.waitForEvents('redeliver-1', [e.ShipmentScheduled], 60_000);
    await harness.settle();
    expect(ledger.charges.filter((c) => c === 'throw-payment-1')).toHaveLength(1);
    expect(await harness.events({ sagaId: 'redeliver-1', type: e.PaymentCharged })).toHaveLength(1);
  });

  it('a handler that gives up: the step failure event, then the other participants compensate', async () => {
    const e = saga.events;
    await harness.publish(e.OrderPlaced, { orderId: 'giveup-shipping-1', amount: 3 }, { sagaId: 'giveup-1' });
    const evs = await harness.waitForEvents('giveup-1', [e.ShipmentFailed, e.PaymentRefunded, e.InventoryReleased], 60_000);
    const failed = evs.find((x) => x.envelope.type === e.ShipmentFailed.name);
    expect(failed?.envelope).toMatchObject({ sagaRole: 'step-failed', sagaStep: 'shipping', source: 'shipping-service' });
    expect(String((failed?.payload as { reason: string }).reason)).toContain('courier API keeps failing');
    expect(ledger.refunds).toContain('ch-giveup-shipping-1');
    expect(ledger.releases).toContain('res-giveup-shipping-1');
    const dead = harness
      .deadLetters()
      .map((m) => ({ m, info: readDeadLetter(m.headers) }))
      .filter((d) => headerString(d.m.headers, 'ce_sagaid') === 'giveup-1');
    expect(dead).toHaveLength(1);
    expect(dead[0]?.info).toMatchObject({
      reason: 'HANDLER_FAILED',
      attempts: 3,
      participant: 'shipping-service',
      originalTopic: e.InventoryReserved.topic,
    });
    expect(dead[0]?.info?.error).toContain('courier API keeps failing');
  });

  it('poison input and an unknown schema id are dead-lettered with the reason; later good events still flow', async () => {
    const e = saga.events;
    const topic = e.OrderPlaced.topic;
    const headers = (sagaId: string, id: string) =>
      toHeaders({
        id,
        source: 'rogue',
        type: e.OrderPlaced.name,
        time: new Date().toISOString(),
        sagaId,
        sagaType: 'order-fulfillment',
        sagaRole: 'start',
      });
    await transport.send([
      { topic, key: 'poison-1', value: Buffer.from('{"orderId":"json, not avro"}'), headers: headers('poison-1', 'p-1') },
      { topic, key: 'poison-2', value: Buffer.from([0, 0x7f, 0, 0, 1, 2, 3]), headers: headers('poison-2', 'p-2') },
      { topic, key: 'poison-3', value: Buffer.from([0, 0, 0, 0, 1]), headers: { ce_type: e.OrderPlaced.name } },
    ]);
    await harness.publish(e.OrderPlaced, { orderId: 'after-poison', amount: 1 }, { sagaId: 'after-poison' });
    await harness.waitForEvents('after-poison', [e.ShipmentScheduled], 60_000);
    const reasons = harness
      .deadLetters()
      .filter((m) => m.topic === `${topic}.dlq`)
      .map((m) => [
        m.key?.toString(),
        headerString(m.headers, DLQ_HEADER.reason),
        headerString(m.headers, DLQ_HEADER.offset) !== undefined,
      ]);
    expect(reasons).toEqual([
      ['poison-1', 'UNDECODABLE_PAYLOAD', true],
      ['poison-2', 'UNKNOWN_SCHEMA_ID', true],
      ['poison-3', 'MISSING_HEADER', true],
    ]);
    const malformed = harness.deadLetters().find((m) => m.key?.toString() === 'poison-3');
    expect(headerString(malformed?.headers, DLQ_HEADER.error)).toContain('missing header ce_id');
  });

  it('troupe-dlq lists dead letters and replays one onto its original topic', async () => {
    const e = saga.events;
    const dlq = `${e.OrderPlaced.topic}.dlq`;
    const { stdout } = await promisify(execFile)(process.execPath, [
      '--import',
      'tsx',
      'packages/sdk/src/cli/troupe-dlq.ts',
      '--brokers',
      kafkaBrokers().join(','),
      'list',
      dlq,
      '--json',
    ]);
    const listed = JSON.parse(stdout) as { reason: string; saga?: string; from: string }[];
    expect(listed.map((l) => [l.reason, l.saga ?? null])).toEqual([
      ['UNDECODABLE_PAYLOAD', 'poison-1'],
      ['UNKNOWN_SCHEMA_ID', 'poison-2'],
      ['MISSING_HEADER', null],
    ]);
    expect(listed[0]?.from).toMatch(new RegExp(`^${e.OrderPlaced.topic}/0/\\d+$`));

    const { replayed } = await replayDeadLetters(transport, dlq, { sagaId: 'poison-2', by: 'test' });
    expect(replayed).toHaveLength(1);
    const original = (await readTopicToEnd(transport.kafka, e.OrderPlaced.topic)).filter((m) => m.key?.toString() === 'poison-2');
    expect(original).toHaveLength(2);
    expect(headerString(original[1]?.headers, 'troupe_replayed_from')).toBe(`${dlq}/${replayed[0]?.partition}/${replayed[0]?.offset}`);
    // Addressed to the group that dead-lettered it; the other participants skip it.
    expect(headerString(original[1]?.headers, 'troupe_replay_group')).toBe(replayed[0]?.info.group);
    expect(original[1]?.value).toEqual(original[0]?.value);
    expect(headerString(original[1]?.headers, DLQ_HEADER.reason)).toBeUndefined();
  });
});
