import { DLQ_HEADER, headerString } from '@troupe/core';
import { MemorySchemaRegistry } from '@troupe/schema-registry';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { newLedger, orderSaga, startSagaServices } from '../participant/order-saga.fixture.js';
import type { Participant } from '../participant/participant.js';
import { Publisher } from '../publisher/publisher.js';
import { MemoryTransport } from '../transport/memory/memory-transport.js';
import type { BatchOutcome, ConsumerSpec, Transport } from '../transport/transport.js';

const silent = pino({ level: 'silent' });

/**
 * The memory transport, except that the first batch whose outputs hold a dead letter is not
 * committed: its handlers ran, then the commit fails (as for a fenced zombie or a broker that
 * aborted the transaction), and the batch is delivered again.
 */
function failFirstDeadLetterCommit(transport: MemoryTransport): { transport: Transport; failed: () => number } {
  let failed = 0;
  const holdsDeadLetter = (o: BatchOutcome): boolean => o.outputs.some((r) => r.headers[DLQ_HEADER.reason] !== undefined);
  const wrapped = new Proxy(transport, {
    get(target, prop) {
      if (prop === 'consume') {
        return (spec: ConsumerSpec) =>
          target.consume({
            ...spec,
            handle: async (batch) => {
              const outcome = await spec.handle(batch);
              if (failed === 0 && outcome.processed > 0 && holdsDeadLetter(outcome)) {
                failed += 1;
                const err = new Error('the transaction was aborted (injected)');
                outcome.onCommitFailed?.(err);
                throw err;
              }
              return outcome;
            },
          });
      }
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { transport: wrapped, failed: () => failed };
}

describe('dead sagas are remembered only once their dead letter is committed', () => {
  let services: Participant[] = [];
  let memory: MemoryTransport | undefined;

  afterEach(async () => {
    await Promise.all(services.map((s) => s.close()));
    services = [];
    await memory?.close();
  });

  it('a step that gave up in a batch whose commit failed gives up again on redelivery: one failure event, one HANDLER_FAILED', async () => {
    memory = await MemoryTransport.create();
    const { transport, failed } = failFirstDeadLetterCommit(memory);
    const codec = new MemorySchemaRegistry();
    const saga = orderSaga('dead-after-commit');
    services = await startSagaServices({ transport, codec, saga, ledger: newLedger(), logger: silent });
    const publisher = await Publisher.create({ transport, codec, source: 'order-service', contracts: [saga.contract] });
    await publisher.publish(saga.events.OrderPlaced, { orderId: 'c-1-giveup-payment', amount: 1 }, { sagaId: 'c-1' });
    const dlqTopic = `${saga.events.OrderPlaced.topic}.dlq`;
    const declined = (): number =>
      memory
        ?.records(saga.events.PaymentDeclined.topic)
        .filter((m) => headerString(m.headers, 'ce_type') === saga.events.PaymentDeclined.name).length ?? 0;
    await new Promise<void>((resolve) => {
      const check = (): void => {
        if ((memory?.records(dlqTopic).length ?? 0) > 0) {
          off();
          resolve();
        }
      };
      const off = memory?.onAppend(check) ?? (() => undefined);
      check();
    });
    await memory.idle();
    expect(failed()).toBe(1);
    // Before: the saga was remembered as failed when the first attempt gave up, so the redelivered
    // event was dead-lettered as SAGA_DEAD_LETTERED and PaymentDeclined never went out.
    const reasons = memory.records(dlqTopic).map((m) => headerString(m.headers, DLQ_HEADER.reason));
    expect(reasons).toEqual(['HANDLER_FAILED']);
    expect(memory.records(dlqTopic).map((m) => headerString(m.headers, DLQ_HEADER.sagaState))).toEqual(['failed']);
    expect(declined()).toBe(1);
  });
});
