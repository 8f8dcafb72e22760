import { randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { HEADER, toHeaders } from '@troupe/core';
import { createKafkaClient } from '@troupe/kafka';
import { createSchemaRegistry } from '@troupe/schema-registry';
import { pino } from 'pino';
import { OrderPlaced, PaymentCharged } from '../../../examples/order-fulfillment/src/generated/events.js';
import { orderFor } from '../../../examples/order-fulfillment/src/world.js';
import type { FaultContext } from '../driver/fault-run.js';

/** Header that marks each hostile record, so its dead letter can be found. */
export const HOSTILE_HEADER = 'x-fault-hostile';

/** The kinds of malformed record mixed into the traffic. */
export const HOSTILE_KINDS = [
  'random-bytes',
  'truncated-avro',
  'unknown-schema-id',
  'missing-headers',
  'bad-header-values',
  'key-not-saga-id',
  'null-key',
  'oversized',
] as const;
export type HostileKind = (typeof HOSTILE_KINDS)[number];

/** What was sent: marker → kind and topic. */
export type HostileLog = Map<string, { readonly kind: HostileKind; readonly topic: string }>;

/**
 * Sends one malformed record every `intervalMs` while orders are placed, the kinds in turn, on the
 * orders topic (read by three participants) and the payments topic (read by two). Each carries a
 * unique {@link HOSTILE_HEADER}; its saga id starts with `hostile-` so it can never be a good saga.
 */
export async function sendHostileInput(ctx: FaultContext, o: { readonly intervalMs: number; readonly sent: HostileLog }): Promise<void> {
  const kafka = createKafkaClient({ brokers: ctx.brokers, clientId: 'fault-hostile', logger: pino({ level: 'silent' }) });
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const codec = await createSchemaRegistry({ url: ctx.registryUrl });
  const hostilePrefix = `hostile-${ctx.sagaIdPrefix}`;
  try {
    let n = 0;
    while (!ctx.placingDone.aborted) {
      await sleep(o.intervalMs, undefined, { signal: ctx.placingDone }).catch(() => undefined);
      if (ctx.placingDone.aborted) break;
      const kind = HOSTILE_KINDS[n % HOSTILE_KINDS.length] ?? 'random-bytes';
      const onPayments = Math.floor(n / HOSTILE_KINDS.length) % 2 === 1;
      n += 1;
      const sagaId = `${hostilePrefix}${n}`;
      const marker = `${kind}-${n}`;
      const type = onPayments ? PaymentCharged : OrderPlaced;
      const headers: Record<string, string> = {
        ...toHeaders({
          id: randomUUID(),
          source: 'fault-hostile',
          type: type.name,
          time: new Date().toISOString(),
          sagaId,
          sagaType: 'order-fulfillment',
          sagaRole: onPayments ? 'step-completed' : 'start',
          ...(onPayments ? { sagaStep: 'payment' } : {}),
        }),
        [HOSTILE_HEADER]: marker,
      };
      const valid = onPayments
        ? await codec.encode(PaymentCharged, { orderId: sagaId, paymentId: `pay-${n}`, amountCents: 100, currency: 'EUR', method: 'CARD' })
        : await codec.encode(OrderPlaced, orderFor(sagaId, 'happy', ctx.random));
      let key: string | null = sagaId;
      let value: Buffer = valid;
      switch (kind) {
        case 'random-bytes':
          value = Buffer.concat([Buffer.from([0x7f]), randomBytes(64 + Math.floor(ctx.random() * 400))]);
          break;
        case 'truncated-avro':
          value = valid.subarray(0, Math.max(6, Math.floor(valid.length / 2)));
          break;
        case 'unknown-schema-id':
          value = Buffer.concat([Buffer.from([0, 0x7f, 0xff, 0xff, 0xf0]), valid.subarray(5)]);
          break;
        case 'missing-headers':
          delete headers[HEADER.type];
          delete headers[HEADER.sagaId];
          break;
        case 'bad-header-values':
          headers[HEADER.specversion] = '0.3';
          headers[HEADER.time] = 'yesterday';
          headers[HEADER.sagaRole] = 'boss';
          break;
        case 'key-not-saga-id':
          key = `not-${sagaId}`;
          break;
        case 'null-key':
          key = null;
          break;
        case 'oversized':
          // Close to the broker's 1 MB record limit: its dead-letter copy (headers added) is not.
          value = Buffer.concat([valid.subarray(0, 5), randomBytes(1_000_000)]);
          break;
      }
      const topic = type.topic;
      try {
        await producer.send({ topic, messages: [{ key, value, headers, partition: n % 3 }] });
        o.sent.set(marker, { kind, topic });
        ctx.count('hostile', kind);
      } catch (err) {
        ctx.count('hostileRejectedByBroker', kind);
        ctx.log(`the broker refused hostile ${marker}: ${String(err)}`);
      }
    }
  } finally {
    await producer.disconnect();
  }
}

/** Where each hostile record was dead-lettered, and why. */
export interface HostileVerdict {
  readonly sent: number;
  /** Hostile records never dead-lettered by anyone (each must be, with a reason). */
  readonly notDeadLettered: readonly string[];
  /** Dead letters by reason. */
  readonly reasons: Record<string, number>;
  /** Dead letters by kind → reasons seen. */
  readonly byKind: Record<string, readonly string[]>;
}

/** Reads the dead-letter topics back and matches every hostile record sent. */
export function judgeHostile(
  sent: HostileLog,
  deadLetters: readonly { readonly marker: string | undefined; readonly reason: string }[],
): HostileVerdict {
  const reasonsOf = new Map<string, Set<string>>();
  const reasons: Record<string, number> = {};
  for (const d of deadLetters) {
    if (d.marker === undefined) continue;
    const r = d.reason === '' ? '(no reason)' : d.reason;
    reasons[r] = (reasons[r] ?? 0) + 1;
    reasonsOf.set(d.marker, (reasonsOf.get(d.marker) ?? new Set()).add(r));
  }
  const byKind: Record<string, Set<string>> = {};
  const notDeadLettered: string[] = [];
  for (const [marker, { kind, topic }] of sent) {
    const seen = reasonsOf.get(marker);
    if (seen === undefined) notDeadLettered.push(`${marker} on ${topic}`);
    for (const r of seen ?? []) (byKind[kind] ??= new Set()).add(r);
  }
  return {
    sent: sent.size,
    notDeadLettered,
    reasons,
    byKind: Object.fromEntries(Object.entries(byKind).map(([k, v]) => [k, [...v].sort()])),
  };
}
