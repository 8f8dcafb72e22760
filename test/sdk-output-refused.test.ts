import { afterAll, describe, expect, it } from 'vitest';
import { headerString } from '@troupe/core';
import type { MemorySchemaRegistry } from '@troupe/schema-registry';
import { DLQ_HEADER, partitionForKey, type Transport } from '@troupe/sdk';
import { SagaHarness } from '@troupe/testing';
import { registerAll, startSagaServices } from '../packages/sdk/src/participant/order-saga.fixture.js';
import { sagaOnKafka, silentLogger } from './fixtures/sdk-kafka.js';

describe('outputs the broker refuses, on a real broker', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
  });

  /** Sagas whose key lands on the same partition (of 3) as `sagaId`. */
  const samePartition = (sagaId: string, n: number): string[] => {
    const out: string[] = [];
    for (let i = 0; out.length < n; i++) if (partitionForKey(`later-${i}`, 3) === partitionForKey(sagaId, 3)) out.push(`later-${i}`);
    return out;
  };

  for (const how of ['checked before sending', 'refused by the broker'] as const) {
    it(`a 2 MB output (${how}): the step emits its failure event with the broker's reason, earlier steps compensate, its partition keeps flowing`, async () => {
      const { suffix, transport, codec, saga, ledger } = await sagaOnKafka(how === 'checked before sending' ? 'big-pre' : 'big-broker');
      cleanup.push(() => transport.close());
      await registerAll(codec as MemorySchemaRegistry, saga);
      // Without the topics' max.message.bytes the participant only learns from the broker's answer.
      const used: Transport =
        how === 'checked before sending'
          ? transport
          : new Proxy(transport, { get: (t, k) => (k === 'maxMessageBytes' ? undefined : (Reflect.get(t, k, t) as unknown)) });
      const services = await startSagaServices({
        transport: used,
        codec,
        saga,
        ledger,
        logger: silentLogger,
        groupSuffix: suffix,
        overrides: { maxBatchSize: 10 },
      });
      cleanup.push(() => Promise.all(services.map((s) => s.close())));
      const harness = await SagaHarness.create({ transport, codec, events: saga.all, contracts: [saga.contract] });
      cleanup.push(() => harness.close());
      const e = saga.events;
      const later = samePartition('huge', 5);
      await harness.publish(e.OrderPlaced, { orderId: 'huge-shipping', amount: 1 }, { sagaId: 'huge' });
      await Promise.all(later.map((id) => harness.publish(e.OrderPlaced, { orderId: id, amount: 1 }, { sagaId: id })));

      const evs = await harness.waitForEvents('huge', [e.ShipmentFailed, e.PaymentRefunded, e.InventoryReleased], 120_000);
      await Promise.all(later.map((id) => harness.waitForEvents(id, [e.ShipmentScheduled], 120_000)));
      const failed = evs.filter((x) => x.envelope.type === e.ShipmentFailed.name);
      expect(failed).toHaveLength(1);
      expect(JSON.stringify(failed[0]?.payload)).toContain('MESSAGE_TOO_LARGE');
      expect(evs.some((x) => x.envelope.type === e.ShipmentScheduled.name)).toBe(false);
      await harness.waitFor(() => Promise.resolve(harness.deadLetters().length > 0 ? true : undefined), 'the dead letter', 60_000);
      expect(harness.deadLetters().map((m) => [headerString(m.headers, 'ce_sagaid'), headerString(m.headers, DLQ_HEADER.reason)])).toEqual([
        ['huge', 'OUTPUT_REFUSED'],
      ]);
      expect(headerString(harness.deadLetters()[0]?.headers, DLQ_HEADER.error)).toContain('MESSAGE_TOO_LARGE');
      const health = await services[2]?.health();
      expect(health?.ready).toBe(true);
    });
  }
});
