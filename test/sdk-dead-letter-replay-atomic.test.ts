// ADR 0012 amendment: a replay's event and its note are written in one transaction. The note's
// write is made to fail at the broker (its dead-letter topic's max.message.bytes lowered below the
// note's size after the dead letter was written) — as a crash between the two writes would. Nothing
// of the replay may then be visible, and running the replay again sends the event once, noted.
import { toHeaders } from '@troupe/core';
import { readTopicToEnd } from '@troupe/kafka';
import { KafkaTransport, listDeadLetters, replayDeadLetters } from '@troupe/sdk';
import { kafkaBrokers, uniqueName } from '@troupe/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { deadLetterRecord } from '../packages/sdk/src/dead-letter/dead-letter.js';
import { silentLogger } from './fixtures/sdk-kafka.js';

describe('dead-letter replay is atomic, on a real broker', () => {
  let transport: KafkaTransport | undefined;
  afterAll(async () => {
    await transport?.close();
  });

  it('a replay whose note the broker refuses leaves no replayed event behind; the next run replays it once', async () => {
    transport = await KafkaTransport.create({ brokers: kafkaBrokers(), logger: silentLogger });
    const topic = uniqueName('replay-atomic');
    const dlq = `${topic}.dlq`;
    await transport.ensureTopics([
      { topic, partitions: 1 },
      { topic: dlq, partitions: 1 },
    ]);
    const message = {
      topic,
      partition: 0,
      offset: '0',
      key: Buffer.from('s-1'),
      value: Buffer.alloc(2_000, 1),
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
    await transport.send([
      deadLetterRecord({
        message,
        topic: dlq,
        reason: 'HANDLER_FAILED',
        error: 'boom',
        attempts: 1,
        participant: 'audit',
        group: 'audit',
        sagaState: 'dead',
      }),
    ]);
    const admin = transport.adminClient;
    // Resource type 2 is a topic.
    const limit = async (bytes: string): Promise<void> => {
      await admin.alterConfigs({
        validateOnly: false,
        resources: [{ type: 2, name: dlq, configEntries: [{ name: 'max.message.bytes', value: bytes }] }],
      });
    };
    await limit('200');
    await expect(replayDeadLetters(transport, dlq, { by: 'ops' })).rejects.toThrow();
    const replayed = async () => (await readTopicToEnd(transport!.kafka, topic)).filter((r) => r.key?.toString() === 's-1');
    expect(await replayed()).toHaveLength(0);
    expect((await listDeadLetters(transport, dlq))[0]?.replays).toHaveLength(0);
    await limit('1048588');
    const again = await replayDeadLetters(transport, dlq, { by: 'ops' });
    expect(again.replayed).toHaveLength(1);
    // The commit's markers reach the partitions just after commit() returns: read once the note shows.
    while (((await listDeadLetters(transport, dlq))[0]?.replays.length ?? 0) === 0) await new Promise((r) => setTimeout(r, 100));
    expect(await replayed()).toHaveLength(1);
    expect((await listDeadLetters(transport, dlq))[0]?.replays.map((n) => n.by)).toEqual(['ops']);
  });
});
