import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCatalog } from '@troupe/schema-registry';
import { SagaTracker, type SagaStreamEvent } from '@troupe/saga-tracker';
import { kafkaBrokers, testKafka, uniqueName, waitFor } from '@troupe/testing';
import { SagaEventWriter, createSagaTopics, orderEvents, type SagaTopics } from './fixtures/tracker-kafka.js';

const PG_URL = process.env['TROUPE_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const SCHEMAS = fileURLToPath(new URL('../schemas', import.meta.url));
const silent = pino({ level: 'silent' });

interface SseMessage {
  readonly id?: string;
  readonly event: string;
  readonly data: string;
}

/** A server-sent events client on fetch: collects messages until closed. */
class SseClient {
  readonly messages: SseMessage[] = [];
  private readonly abort = new AbortController();
  private readonly done: Promise<void>;

  constructor(url: string, lastEventId?: string) {
    this.done = (async () => {
      const res = await fetch(url, {
        headers: lastEventId !== undefined ? { 'last-event-id': lastEventId } : {},
        signal: this.abort.signal,
      });
      if (res.body === null) throw new Error('no SSE body');
      const decoder = new TextDecoder();
      let buffer = '';
      for await (const chunk of res.body) {
        buffer += decoder.decode(chunk as Uint8Array, { stream: true });
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const fields = new Map<string, string>();
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) continue;
            const at = line.indexOf(': ');
            if (at > 0) fields.set(line.slice(0, at), line.slice(at + 2));
          }
          const event = fields.get('event');
          if (event === undefined) continue;
          const id = fields.get('id');
          this.messages.push({ event, data: fields.get('data') ?? '', ...(id !== undefined ? { id } : {}) });
        }
      }
    })().catch((err: unknown) => {
      if (!this.abort.signal.aborted) throw err;
    });
  }

  sagas(): { id: string; change: SagaStreamEvent }[] {
    return this.messages.filter((m) => m.event === 'saga').map((m) => ({ id: m.id ?? '', change: JSON.parse(m.data) as SagaStreamEvent }));
  }

  async close(): Promise<void> {
    this.abort.abort();
    await this.done;
  }
}

async function groupMembers(groupId: string): Promise<number> {
  const admin = testKafka().admin();
  await admin.connect();
  try {
    const { groups } = await admin.describeGroups([groupId]);
    const g = groups[0];
    return g?.state === 'Stable' ? g.members.length : 0;
  } finally {
    await admin.disconnect();
  }
}

describe('live updates across tracker instances sharing PostgreSQL', () => {
  let topics: SagaTopics;
  let writer: SagaEventWriter;
  const schema = `trk_live_${randomBytes(4).toString('hex')}`;
  const trackers: SagaTracker[] = [];
  const clients: SseClient[] = [];

  beforeAll(async () => {
    topics = await createSagaTopics('trk-live');
    writer = await SagaEventWriter.create();
  });
  afterAll(async () => {
    for (const c of clients) await c.close().catch(() => undefined);
    for (const t of trackers) await t.close().catch(() => undefined);
    await writer?.close();
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await c.end();
  });

  it('streams to a client of one instance the sagas the other instance ingested, and resumes after Last-Event-ID', async () => {
    const contracts = (await loadCatalog(SCHEMAS)).contracts.map((c) => c.contract);
    const groupId = uniqueName('trk-live-group');
    const make = (): Promise<SagaTracker> =>
      SagaTracker.create({
        brokers: kafkaBrokers(),
        topics: [topics.orders, topics.payments, topics.inventory, topics.shipping],
        contracts,
        store: { kind: 'postgres', url: PG_URL, schema },
        groupId,
        port: 0,
        logger: silent,
      });
    const [a, b] = await Promise.all([make(), make()]);
    trackers.push(a, b);
    // Both members own partitions before anything is written, so both ingest part of the sagas.
    await waitFor(async () => (await groupMembers(groupId)) === 2, { description: 'a stable group of two trackers', timeoutMs: 90_000 });
    const ingestedByB = new Set<string>();
    b.store.onChange((changes) => changes.forEach((c) => ingestedByB.add(c.summary.sagaId)));

    const onA = new SseClient(`${a.url}/api/stream`);
    clients.push(onA);
    await waitFor(() => onA.messages.some((m) => m.event === 'hello'), { description: 'the stream to open', timeoutMs: 10_000 });

    const ev = orderEvents(topics);
    const run = uniqueName('live');
    const round = (from: number, n: number) =>
      Array.from({ length: n }, (_, i) =>
        SagaEventWriter.chain(`${run}-${from + i}`, [ev.placed, ev.charged, ev.reserved, ev.scheduled, ev.completed], {
          startMs: Date.now() - 10_000,
        }),
      ).flat();
    await writer.send(round(0, 60));
    const completedOnA = (): Set<string> =>
      new Set(
        onA
          .sagas()
          .filter((s) => s.change.summary.status === 'completed')
          .map((s) => s.change.summary.sagaId),
      );
    await waitFor(() => completedOnA().size === 60, {
      description: 'all 60 sagas completed on the stream of instance A',
      timeoutMs: 90_000,
    });
    // Instance B ingested some of them itself; A's client saw those too. (B also ingests what earlier
    // tests wrote to these topics, possibly before A's stream opened: only this round counts.)
    const thisRoundOnB = [...ingestedByB].filter((id) => id.startsWith(`${run}-`));
    expect(thisRoundOnB.length).toBeGreaterThan(0);
    expect(thisRoundOnB.filter((id) => !completedOnA().has(id))).toEqual([]);
    // Ids are dense and in order: nothing skipped, nothing twice.
    const ids = onA.sagas().map((s) => Number(s.id));
    expect(ids).toEqual(ids.map((_, i) => (ids[0] ?? 0) + i));

    // A client of B disconnects, 30 sagas later reconnects with its last id, and misses nothing.
    const onB = new SseClient(`${b.url}/api/stream`);
    clients.push(onB);
    await waitFor(() => onB.messages.some((m) => m.event === 'hello'), { description: 'the stream of B to open', timeoutMs: 10_000 });
    await onB.close();
    const lastSeen = onA.sagas().at(-1)?.id ?? '0';
    await writer.send(round(60, 30));
    await waitFor(() => completedOnA().size === 90, { description: 'the next 30 sagas on the stream of A', timeoutMs: 90_000 });
    const resumed = new SseClient(`${b.url}/api/stream`, lastSeen);
    clients.push(resumed);
    const missed = onA.sagas().filter((s) => Number(s.id) > Number(lastSeen));
    await waitFor(() => resumed.sagas().length >= missed.length, { description: 'the resumed stream to catch up', timeoutMs: 30_000 });
    expect(resumed.sagas().slice(0, missed.length)).toEqual(missed);
    expect(resumed.messages.some((m) => m.event === 'reset')).toBe(false);

    // An id the feed never issued: the client is told to reload.
    const foreign = new SseClient(`${a.url}/api/stream`, '999999999');
    clients.push(foreign);
    await waitFor(() => foreign.messages.some((m) => m.event === 'reset'), { description: 'a reset for an unknown id', timeoutMs: 10_000 });
  });
});
