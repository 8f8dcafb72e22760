import { DLQ_HEADER, REPLAY_HEADER, headerString, toHeaders } from '@troupe/core';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { MemoryTransport } from '../transport/memory/memory-transport.js';
import type { InboundMessage } from '../transport/transport.js';
import { deadLetterRecord } from './dead-letter.js';
import { DeadSagas } from './dead-sagas.js';
import { readReplayNote, replayRecords, replayTargetOf } from './replay.js';

const silent = pino({ level: 'silent' });

function event(sagaId: string, offset: string, role: 'start' | 'step-failed' = 'start'): InboundMessage {
  const headers = toHeaders({
    id: `${sagaId}-${offset}`,
    source: 'order-service',
    type: 'com.acme.OrderPlaced',
    time: '2026-12-01T00:00:00.000Z',
    sagaId,
    sagaType: 'order-fulfillment',
    sagaRole: role,
  });
  return {
    topic: 'orders',
    partition: 1,
    offset,
    key: Buffer.from(sagaId),
    value: Buffer.from('v'),
    headers,
    timestamp: '0',
  };
}

/** A dead letter as the DLQ holds it (the record a participant wrote, read back at `offset`). */
function asRead(record: ReturnType<typeof deadLetterRecord>, offset: string): InboundMessage {
  return {
    ...event('x', offset),
    topic: record.topic,
    partition: record.partition ?? 0,
    key: record.key as Buffer,
    value: record.value,
    headers: record.headers,
  };
}

describe('replay records', () => {
  it('address the event to the group that gave up, on its original partition, and note who replayed which dead letter', () => {
    const dead = asRead(
      deadLetterRecord({
        message: event('s-1', '7'),
        topic: 'orders.dlq',
        reason: 'HANDLER_FAILED',
        error: 'boom',
        attempts: 3,
        participant: 'audit',
        group: 'audit-g',
      }),
      '12',
    );
    const r = replayRecords(dead, { group: 'audit-g', by: 'alice', at: '2026-12-01T01:00:00.000Z' });
    expect(r?.event).toMatchObject({ topic: 'orders', partition: 1, value: Buffer.from('v') });
    expect(replayTargetOf(r?.event.headers ?? {})).toBe('audit-g');
    expect(headerString(r?.event.headers, 'ce_id')).toBe('s-1-7');
    expect(headerString(r?.event.headers, DLQ_HEADER.reason)).toBeUndefined();
    expect(headerString(r?.event.headers, REPLAY_HEADER.from)).toBe('orders.dlq/1/12');
    expect(r?.note).toMatchObject({ topic: 'orders.dlq', partition: 1, value: null });
    expect(readReplayNote(r?.note.headers ?? {})).toEqual({ of: '1/12', group: 'audit-g', by: 'alice', at: '2026-12-01T01:00:00.000Z' });
    // A note is not a dead letter, and an event is not a note.
    expect(headerString(r?.note.headers, DLQ_HEADER.reason)).toBeUndefined();
    expect(readReplayNote(r?.event.headers ?? {})).toBeUndefined();
  });
});

describe('DeadSagas', () => {
  it('rebuilds from the dead-letter topic: its own dead letters by the saga state they carry, cleared by a replay note', async () => {
    const transport = await MemoryTransport.create();
    await transport.ensureTopics([{ topic: 'orders.dlq', partitions: 2 }]);
    const dl = (
      sagaId: string,
      group: string,
      more: { failure?: string; role?: 'step-failed'; state?: 'failed' | 'dead' | 'unchanged'; legacy?: boolean } = {},
    ) => {
      const r = deadLetterRecord({
        message: event(sagaId, '1', more.role),
        topic: 'orders.dlq',
        reason: 'HANDLER_FAILED',
        error: 'boom',
        attempts: 1,
        participant: group,
        group,
        ...(more.failure !== undefined ? { failure: more.failure } : {}),
        ...(more.state !== undefined ? { sagaState: more.state } : {}),
      });
      if (!more.legacy) return r;
      // Written before dead letters said what they mean for the saga: derived from failure and role.
      const { [DLQ_HEADER.sagaState]: _dropped, ...headers } = r.headers;
      return { ...r, headers };
    };
    await transport.send([
      dl('dead', 'me', { state: 'dead' }),
      dl('failed', 'me', { failure: 'com.acme.PaymentDeclined', state: 'failed' }),
      dl('trigger', 'me', { role: 'step-failed', legacy: true }),
      dl('others', 'someone-else', { state: 'dead' }),
      dl('replayed', 'me', { state: 'dead' }),
      dl('boundary', 'me'),
      dl('old-dead', 'me', { legacy: true }),
    ]);
    const [, , , , replayedDl] = await transport.readPartition('orders.dlq', 1, '0');
    const r = replayedDl && replayRecords(replayedDl, { group: 'me', by: 'ops', at: 'now' });
    if (r) await transport.send([r.note]);

    const sagas = new DeadSagas({ transport, groupId: 'me', deadLetterTopics: ['orders.dlq'], logger: silent });
    await sagas.restore(1);
    expect(['dead', 'failed', 'trigger', 'others', 'replayed', 'boundary', 'old-dead'].map((s) => sagas.stateOf(s))).toEqual([
      'dead',
      'failed',
      'failed',
      undefined,
      undefined,
      undefined,
      'dead',
    ]);

    const refused = sagas.admitReplay('failed');
    expect(refused.handle).toBe(false);
    expect(refused.handle ? '' : refused.reason).toMatch(/already failed and compensates/);
    expect(sagas.stateOf('failed')).toBe('failed');
    expect(sagas.admitReplay('dead')).toEqual({ handle: true });
    expect(sagas.stateOf('dead')).toBeUndefined();
    // A failed saga is never downgraded.
    sagas.remember('failed', 'dead');
    expect(sagas.stateOf('failed')).toBe('failed');
    await transport.close();
  });

  it("counts a batch's dead letters for its later records at once and for everyone only once committed", () => {
    const sagas = new DeadSagas({ transport: undefined as never, groupId: 'me', deadLetterTopics: [], logger: silent });
    const gaveUp = deadLetterRecord({
      message: event('s-9', '3'),
      topic: 'orders.dlq',
      reason: 'HANDLER_FAILED',
      error: 'boom',
      attempts: 3,
      participant: 'me',
      group: 'me',
      sagaState: 'failed',
    });
    const batch = sagas.batch();
    batch.note([gaveUp]);
    expect([batch.stateOf('s-9'), sagas.stateOf('s-9')]).toEqual(['failed', undefined]);
    // The commit failed: a new delivery's batch knows nothing of it.
    expect(sagas.batch().stateOf('s-9')).toBeUndefined();
    sagas.applyCommitted([gaveUp]);
    expect(sagas.stateOf('s-9')).toBe('failed');
  });
});
