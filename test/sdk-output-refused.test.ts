import { afterAll, describe, expect, it } from 'vitest';
import { headerString } from '@troupe/core';
import type { MemorySchemaRegistry } from '@troupe/schema-registry';
import { DLQ_HEADER, type Transport } from '@troupe/sdk';
import { SagaHarness } from '@troupe/testing';
import { registerAll, startSagaServices } from '../packages/sdk/src/participant/order-saga.fixture.js';
import { expectHugeShippingRefused } from './fixtures/huge-shipping.js';
import { sagaOnKafka, silentLogger } from './fixtures/sdk-kafka.js';

describe('outputs the broker refuses, on a real broker', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
  });

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
      const dead = await expectHugeShippingRefused(harness, saga);
      expect(headerString(dead[0]?.headers, DLQ_HEADER.error)).toContain('MESSAGE_TOO_LARGE');
      const health = await services[2]?.health();
      expect(health?.ready).toBe(true);
    });
  }
});
