/**
 * The retry-topic scenario run on both transports (unit test on memory, `test/sdk-retry-topic.test.ts`
 * on Kafka). One partition, one participant with handlers for A and B:
 * - saga S: A fails 5 times (2 in place, 2 on the first retry pass, 1 on the second), then succeeds;
 *   B of S is published right after A and must be handled after it;
 * - saga T: A is published after S's events and succeeds at once: it must not wait for S;
 * - saga U: A always fails → dead-lettered after the retry passes; B of U is then dead-lettered
 *   as SAGA_DEAD_LETTERED instead of running.
 */
import { headerString } from '@troupe/core';
import { defineEventType, type EventCodec } from '@troupe/schema-registry';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import { DLQ_HEADER } from '../dead-letter/dead-letter.js';
import { on } from '../participant/handlers.js';
import { Participant } from '../participant/participant.js';
import { Publisher } from '../publisher/publisher.js';
import type { InboundMessage, Transport } from '../transport/transport.js';

interface Ev {
  id: string;
}
const schema = (name: string) => ({ type: 'record' as const, name, namespace: 'test.retry', fields: [{ name: 'id', type: 'string' }] });

export interface RetryScenarioResult {
  /** `<saga>:<type>` in the order handled successfully. */
  readonly handled: readonly string[];
  /** `[saga, reason, attempts]` of the dead letters. */
  readonly deadLetters: readonly (readonly [string | undefined, string | undefined, string | undefined])[];
  /** Records that went through the retry topic. */
  readonly retryRecords: number;
}

export async function runRetryScenario(args: {
  readonly transport: Transport;
  readonly codec: EventCodec;
  readonly suffix: string;
  readonly logger: Logger;
  /** Reads a topic completely (read_committed) once the scenario is done. */
  readonly read: (topic: string) => Promise<readonly InboundMessage[]>;
}): Promise<RetryScenarioResult> {
  const topic = `retry-events-${args.suffix}`;
  const A = defineEventType<Ev>({ name: 'test.retry.A', topic, schema: schema('A') });
  const B = defineEventType<Ev>({ name: 'test.retry.B', topic, schema: schema('B') });
  const handled: string[] = [];
  const failures = new Map<string, number>();
  let resolveDone: () => void = () => undefined;
  const done = new Promise<void>((r) => (resolveDone = r));
  const check = (): void => {
    if (handled.includes('S:B') && handled.includes('T:A')) resolveDone();
  };
  const groupId = `retry-service-${args.suffix}`;
  const participant = await Participant.create({
    name: 'retry-service',
    groupId,
    transport: args.transport,
    codec: args.codec,
    logger: args.logger,
    metricsRegistry: new Registry(),
    topics: { partitions: 1 },
    retry: { attempts: 2, initialDelayMs: 1, maxDelayMs: 5 },
    retryTopic: { delayMs: 50, attempts: 3 },
    handlers: [
      on(A, ({ payload, ctx }) => {
        const n = (failures.get(ctx.sagaId) ?? 0) + 1;
        if (payload.id === 'U' || (payload.id === 'S' && n <= 5)) {
          failures.set(ctx.sagaId, n);
          return Promise.reject(new Error(`A of ${ctx.sagaId} failed (${n})`));
        }
        handled.push(`${ctx.sagaId}:A`);
        check();
        return Promise.resolve();
      }),
      on(B, ({ ctx }) => {
        handled.push(`${ctx.sagaId}:B`);
        check();
        return Promise.resolve();
      }),
    ],
  });
  try {
    const publisher = await Publisher.create({ transport: args.transport, codec: args.codec, source: 'test', topics: { partitions: 1 } });
    const publish = (type: typeof A, id: string) => publisher.publish(type, { id }, { sagaId: id, sagaType: 'retry-test' });
    await publish(A, 'S');
    await publish(A, 'U');
    await publish(B, 'S');
    await publish(B, 'U');
    await publish(A, 'T');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      done,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`retry scenario did not finish; handled so far: ${handled.join(', ')}`)), 60_000);
      }),
    ]).finally(() => clearTimeout(timer));
    // U's dead letters come from the same retry partition, after S's records: wait for both.
    let dead: readonly InboundMessage[] = [];
    for (let i = 0; i < 600 && dead.length < 2; i++) {
      dead = await args.read(`${topic}.dlq`).catch(() => []);
      if (dead.length < 2) await new Promise((r) => setTimeout(r, 100));
    }
    return {
      handled,
      deadLetters: dead.map(
        (m) =>
          [
            headerString(m.headers, 'ce_sagaid'),
            headerString(m.headers, DLQ_HEADER.reason),
            headerString(m.headers, DLQ_HEADER.attempts),
          ] as const,
      ),
      retryRecords: (await args.read(`${groupId}.retry`)).length,
    };
  } finally {
    await participant.close();
  }
}

/**
 * Per-saga order across a restart: the first instance moves A of saga S to the retry topic and
 * queues B of S behind it, then closes; C of S is published while it is down. The second instance
 * (same group) must rebuild "S is waiting" from the retry topic and handle A, B, C in that order.
 */
export async function runRetryRestartScenario(args: {
  readonly transport: Transport;
  readonly codec: EventCodec;
  readonly suffix: string;
  readonly logger: Logger;
  readonly read: (topic: string) => Promise<readonly InboundMessage[]>;
}): Promise<readonly string[]> {
  const topic = `retry-restart-${args.suffix}`;
  const A = defineEventType<Ev>({ name: 'test.retry.A', topic, schema: schema('A') });
  const B = defineEventType<Ev>({ name: 'test.retry.B', topic, schema: schema('B') });
  const C = defineEventType<Ev>({ name: 'test.retry.C', topic, schema: schema('C') });
  const groupId = `retry-restart-${args.suffix}`;
  const handled: string[] = [];
  const start = (failA: boolean) =>
    Participant.create({
      name: 'retry-service',
      groupId,
      transport: args.transport,
      codec: args.codec,
      logger: args.logger,
      metricsRegistry: new Registry(),
      topics: { partitions: 1 },
      retry: { attempts: 1 },
      retryTopic: { delayMs: 1000, attempts: 5 },
      handlers: [A, B, C].map((t) =>
        on(t, () => {
          if (failA && t === A) return Promise.reject(new Error('A fails on the first instance'));
          handled.push(t.name.slice(-1));
          return Promise.resolve();
        }),
      ),
    });
  const publisher = await Publisher.create({ transport: args.transport, codec: args.codec, source: 'test', topics: { partitions: 1 } });
  const publish = (type: typeof A) => publisher.publish(type, { id: 'S' }, { sagaId: 'S', sagaType: 'retry-test' });
  const until = async (probe: () => Promise<boolean>, what: string): Promise<void> => {
    for (let i = 0; i < 600; i++) {
      if (await probe()) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`timed out waiting for ${what}; handled: ${handled.join(',')}`);
  };
  const first = await start(true);
  await publish(A);
  await publish(B);
  await until(async () => (await args.read(`${groupId}.retry`)).length >= 2, 'A and B in the retry topic');
  await first.close();
  await publish(C);
  const second = await start(false);
  try {
    await until(() => Promise.resolve(handled.length >= 3), 'A, B and C handled');
  } finally {
    await second.close();
  }
  return handled;
}
