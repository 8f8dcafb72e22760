// Review finding #6 of issue 10: state a participant rebuilds per partition number when it is
// assigned (pending timers, sagas given up on, the inbox window) is read from a topic, which takes
// seconds. The partition may be revoked and assigned back meanwhile; the read that started before
// must then not overwrite or merge into what the current assignment read. Each case holds the
// first read's answer back, lets "another owner" write, re-assigns, reads again, then lets the
// first answer arrive. `forget()`/`reassigned()` are what the participant calls on each assignment.
import { toHeaders } from '@troupe/core';
import { KafkaTransport, systemClock, type Transport } from '@troupe/sdk';
import { kafkaBrokers, uniqueName } from '@troupe/testing';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { deadLetterRecord } from '../packages/sdk/src/dead-letter/dead-letter.js';
import { DeadSagas } from '../packages/sdk/src/dead-letter/dead-sagas.js';
import { replayRecords } from '../packages/sdk/src/dead-letter/replay.js';
import { TopicInbox } from '../packages/sdk/src/inbox/topic-inbox.js';
import { TimerService } from '../packages/sdk/src/timers/timer-service.js';
import { timerRecord, timerTombstone } from '../packages/sdk/src/timers/timer-record.js';
import { silentLogger } from './fixtures/sdk-kafka.js';

/**
 * The broker's transport, except that the answer of the first `readPartition` is held back until
 * `release()` (`held` resolves once it arrived) or, with `fail`, replaced by that error.
 */
function holdingFirstRead(transport: KafkaTransport, fail?: Error) {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let arrived!: () => void;
  const held = new Promise<void>((r) => (arrived = r));
  let reads = 0;
  const readPartition: Transport['readPartition'] = async (...args) => {
    reads += 1;
    const first = reads === 1;
    const records = await transport.readPartition(...args);
    if (!first) return records;
    arrived();
    if (fail) throw fail;
    await gate;
    return records;
  };
  const proxied = new Proxy(transport, {
    get: (target, prop) => {
      if (prop === 'readPartition') return readPartition;
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { transport: proxied as Transport, release, held, reads: () => reads };
}

describe('state restored on assignment, on a real broker', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
  });

  async function broker(prefix: string) {
    const transport = await KafkaTransport.create({ brokers: kafkaBrokers(), logger: silentLogger });
    cleanup.push(() => transport.close());
    const topic = uniqueName(prefix);
    await transport.ensureTopics([{ topic, partitions: 1 }]);
    return { transport, topic };
  }

  it('timers: a read from before a revoke and re-assign does not replace the current one (a fired timer stays gone, a new one stays)', async () => {
    const { transport, topic } = await broker('restore-timers');
    const timer = (key: string) =>
      timerRecord({ topic, partition: 0, key, sagaId: key, kind: 'event', dueAt: Date.now() + 3_600_000, value: Buffer.from('x') });
    await transport.send([timer('fired-meanwhile')]);
    const gated = holdingFirstRead(transport);
    const timers = new TimerService({ transport: gated.transport, topic, clock: systemClock, logger: silentLogger, firers: {} });
    const first = timers.restore(0);
    await gated.held;
    // Revoked; another owner fires the timer and schedules one; assigned back.
    timers.forget();
    await transport.send([timerTombstone(topic, 0, 'fired-meanwhile'), timer('scheduled-meanwhile')]);
    timers.forget();
    await timers.restore(0);
    gated.release();
    await first;
    expect([timers.get(0, 'fired-meanwhile'), timers.get(0, 'scheduled-meanwhile')?.key]).toEqual([undefined, 'scheduled-meanwhile']);
    expect(timers.pending()).toBe(1);
  });

  it('dead sagas: a read from before a revoke and re-assign does not bring back a saga that a replay cleared since', async () => {
    const { transport, topic } = await broker('restore-dlq');
    const message = {
      topic: 'orders',
      partition: 0,
      offset: '0',
      key: Buffer.from('s-1'),
      value: Buffer.from('v'),
      headers: toHeaders({
        id: 's-1-0',
        source: 'order-service',
        type: 'com.acme.OrderPlaced',
        time: new Date().toISOString(),
        sagaId: 's-1',
        sagaType: 'order-fulfillment',
        sagaRole: 'start',
      }),
      timestamp: '0',
    };
    const group = 'payment';
    const dl = deadLetterRecord({
      message,
      topic,
      reason: 'HANDLER_FAILED',
      error: 'boom',
      attempts: 1,
      participant: group,
      group,
      sagaState: 'dead',
    });
    await transport.send([dl]);
    const gated = holdingFirstRead(transport);
    const sagas = new DeadSagas({ transport: gated.transport, groupId: group, deadLetterTopics: [topic], logger: silentLogger });
    const first = sagas.restore(0);
    await gated.held;
    // Revoked; the dead letter is replayed (its note written) and handled by another owner; assigned back.
    sagas.forget();
    const [written] = await transport.readPartition(topic, 0, '0');
    const replay = written && replayRecords(written, { group, by: 'ops', at: new Date().toISOString() });
    if (!replay) throw new Error('the dead letter was not read back');
    await transport.send([replay.note]);
    sagas.forget();
    await sagas.restore(0);
    expect(sagas.stateOf('s-1')).toBeUndefined();
    gated.release();
    await first;
    expect(sagas.stateOf('s-1')).toBeUndefined();
  });

  it('inbox: reads back the last `window` records under exactly-once, though each transaction takes one more offset for its marker (finding #7)', async () => {
    const { transport, topic } = await broker('restore-inbox-eos');
    const window = 10;
    // As a participant's batches of one event each write them: one inbox record per transaction.
    const producer = transport.kafka.producer({ transactionalId: uniqueName('inbox-writer'), idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    cleanup.push(() => producer.disconnect());
    const ids = Array.from({ length: window }, (_, i) => `e-${i}`);
    for (const id of ids) {
      const tx = await producer.transaction();
      await tx.send({ topic, messages: [{ key: id, value: 'orders/0/0', partition: 0 }] });
      await tx.commit();
    }
    const inbox = new TopicInbox({ transport, topic, delivery: 'exactly-once', window, logger: silentLogger });
    const batch = await inbox.open(0);
    const seen = await Promise.all(ids.map((id) => batch.seen(id)));
    expect(seen.filter(Boolean)).toHaveLength(window);
    expect(inbox.size).toBe(window);
  });

  it('inbox: a batch opened before a revoke and re-assign sees the events handled meanwhile; a failed read is logged and read again', async () => {
    const { transport, topic } = await broker('restore-inbox');
    const handled = (id: string) => ({ topic, partition: 0, key: id, value: Buffer.from('orders/0/0'), headers: {} });
    await transport.send([handled('e-1')]);
    const gated = holdingFirstRead(transport);
    const inbox = new TopicInbox({ transport: gated.transport, topic, delivery: 'exactly-once', window: 100, logger: silentLogger });
    const first = inbox.open(0);
    await gated.held;
    inbox.reassigned();
    await transport.send([handled('e-2')]);
    inbox.reassigned();
    const current = await inbox.open(0);
    gated.release();
    const stale = await first;
    expect([await current.seen('e-2'), await stale.seen('e-2'), inbox.size]).toEqual([true, true, 2]);

    const warnings: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(line) });
    const failing = holdingFirstRead(transport, new Error('NOT_LEADER_FOR_PARTITION'));
    const retried = new TopicInbox({ transport: failing.transport, topic, delivery: 'exactly-once', window: 100, logger });
    await expect(retried.open(0)).rejects.toThrow('NOT_LEADER_FOR_PARTITION');
    expect(warnings.join('')).toContain(`cannot read the inbox topic ${topic} yet`);
    // Not handled until it is read: the next batch reads again, and sees both events.
    const batch = await retried.open(0);
    expect([await batch.seen('e-1'), await batch.seen('e-2'), failing.reads()]).toEqual([true, true, 2]);
  });
});
