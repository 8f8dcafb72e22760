import { DLQ_HEADER, HEADER, deadLetterTopicOf, headerString } from '@troupe/core';
import { createKafkaClient, readTopicToEnd, type KafkaRecord } from '@troupe/kafka';
import { pino } from 'pino';
import { EVENTS_OF, EXPECTED, type ExpectedStatus, type GroundTruth } from './ground-truth.js';

/** Services that publish through a PostgreSQL outbox relay (at least once, ADR 0014). */
const OUTBOX_SOURCES = new Set(['order-service']);

/** The example's domain topics. */
export const DOMAIN_TOPICS = ['orders', 'payments', 'inventory', 'shipping'] as const;

interface TrackerListPage {
  items: { sagaId: string; status: string; eventCount: number }[];
  nextCursor?: string;
}

/** One saga as the tracker sees it. */
export interface TrackedSaga {
  readonly status: string;
  readonly eventCount: number;
}

/** Every saga of the run (by id prefix) from the tracker's list API, page by page. */
export async function trackerSagas(trackerUrl: string, prefix: string): Promise<Map<string, TrackedSaga>> {
  const out = new Map<string, TrackedSaga>();
  let cursor: string | undefined;
  do {
    const q = new URLSearchParams({ type: 'order-fulfillment', prefix, limit: '500', ...(cursor !== undefined ? { cursor } : {}) });
    const res = await fetch(`${trackerUrl}/api/sagas?${q.toString()}`);
    if (!res.ok) throw new Error(`the tracker answered ${res.status} to /api/sagas: ${await res.text()}`);
    const page = (await res.json()) as TrackerListPage;
    for (const s of page.items) out.set(s.sagaId, { status: s.status, eventCount: s.eventCount });
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return out;
}

const TERMINAL = new Set(['completed', 'compensated', 'failed']);

/** True once the tracker shows every placed saga in a terminal status. */
export async function allEnded(trackerUrl: string, truth: GroundTruth, prefix: string): Promise<{ ended: number; seen: number }> {
  const sagas = await trackerSagas(trackerUrl, prefix);
  let ended = 0;
  for (const s of sagas.values()) if (TERMINAL.has(s.status)) ended += 1;
  return { ended, seen: sagas.size };
}

/** A dead-lettered record, from a `.dlq` topic. */
export interface DeadLetter {
  readonly topic: string;
  readonly reason: string;
  readonly participant: string;
  readonly sourceTopic: string;
  readonly key: string | undefined;
  readonly eventId: string | undefined;
}

/** What a fault run verified; each count other than `sagas` and `outcomes` must be zero. */
export interface Verification {
  readonly sagas: number;
  /** Sagas by terminal status: what the ground truth expects, what Kafka shows, what the tracker shows. */
  readonly outcomes: {
    readonly expected: Record<ExpectedStatus, number>;
    readonly kafka: Record<string, number>;
    readonly tracker: Record<string, number>;
  };
  /** Events of this run among read_committed records. */
  readonly events: number;
  /** Records whose `ce_id` was already seen (each extra copy counts once), from Kafka-transactional producers. */
  readonly duplicatesByCeId: number;
  /**
   * Copies of an event from the order service's PostgreSQL outbox (same `ce_id`), which its relay
   * publishes at least once when it dies between publishing and marking (ADR 0014); consumers
   * handle each `ce_id` once (their inbox), which `duplicateEffects` and the tracker check.
   */
  readonly republishedByRelay: number;
  /** A saga with the same event type twice under different `ce_id`s: an effect done twice. */
  readonly duplicateEffects: number;
  /** Sagas missing an event their scenario must produce (a lost saga counts each missing event). */
  readonly lostEvents: number;
  /** Events a saga's scenario must not produce. */
  readonly unexpectedEvents: number;
  /** Sagas whose tracker status or event count differs from the ground truth. */
  readonly trackerMismatches: number;
  /** Dead letters of this run's sagas (good traffic must never be dead-lettered). */
  readonly deadLetteredGood: number;
  /** Up to 10 examples of each problem, for the failure message. */
  readonly examples: readonly string[];
}

/** Reads topics back as a read_committed consumer sees them, with the one Kafka reader. */
export async function readTopics(brokers: readonly string[], topics: readonly string[]): Promise<KafkaRecord[]> {
  const kafka = createKafkaClient({ brokers, clientId: 'fault-verifier', logger: pino({ level: 'silent' }) });
  const admin = kafka.admin();
  await admin.connect();
  const existing = new Set(await admin.listTopics());
  await admin.disconnect();
  const out: KafkaRecord[] = [];
  for (const topic of topics) if (existing.has(topic)) out.push(...(await readTopicToEnd(kafka, topic, { timeoutMs: 120_000 })));
  return out;
}

export function deadLettersOf(records: readonly KafkaRecord[]): DeadLetter[] {
  return records.map((r) => ({
    topic: r.topic,
    reason: headerString(r.headers, DLQ_HEADER.reason) ?? '',
    participant: headerString(r.headers, DLQ_HEADER.participant) ?? '',
    sourceTopic: headerString(r.headers, DLQ_HEADER.topic) ?? '',
    key: r.key?.toString('utf8'),
    eventId: headerString(r.headers, HEADER.id),
  }));
}

/**
 * Checks a finished run against its ground truth: every saga's events on the domain topics
 * (read_committed, counted by `ce_id`), its terminal status there and in the tracker, and that no
 * event of a good saga was dead-lettered.
 */
export async function verifyRun(args: {
  readonly brokers: readonly string[];
  readonly trackerUrl: string;
  readonly truth: GroundTruth;
  readonly prefix: string;
}): Promise<Verification> {
  const { truth, prefix } = args;
  const examples: string[] = [];
  const example = (kind: string, text: string): void => {
    if (examples.filter((e) => e.startsWith(kind)).length < 10) examples.push(`${kind}: ${text}`);
  };
  const records = await readTopics(args.brokers, [...DOMAIN_TOPICS, ...DOMAIN_TOPICS.map((t) => deadLetterTopicOf(t))]);
  const seenIds = new Set<string>();
  const typesBySaga = new Map<string, string[]>();
  let duplicatesByCeId = 0;
  let republishedByRelay = 0;
  let events = 0;
  let deadLetteredGood = 0;
  for (const r of records) {
    const sagaId = headerString(r.headers, HEADER.sagaId) ?? '';
    if (!sagaId.startsWith(prefix)) continue;
    if (r.topic.endsWith('.dlq')) {
      deadLetteredGood += 1;
      example(
        'dead-lettered',
        `${sagaId} ${headerString(r.headers, HEADER.type) ?? '?'}: ${headerString(r.headers, DLQ_HEADER.reason) ?? '?'} ${headerString(r.headers, DLQ_HEADER.error) ?? ''}`,
      );
      continue;
    }
    events += 1;
    const id = headerString(r.headers, HEADER.id) ?? '';
    if (seenIds.has(id)) {
      if (OUTBOX_SOURCES.has(headerString(r.headers, HEADER.source) ?? '')) {
        republishedByRelay += 1;
      } else {
        duplicatesByCeId += 1;
        example('duplicate ce_id', `${sagaId} ${headerString(r.headers, HEADER.type) ?? '?'} ${id}`);
      }
      continue;
    }
    seenIds.add(id);
    const types = typesBySaga.get(sagaId) ?? [];
    types.push(headerString(r.headers, HEADER.type) ?? '?');
    typesBySaga.set(sagaId, types);
  }

  let duplicateEffects = 0;
  let lostEvents = 0;
  let unexpectedEvents = 0;
  const kafka: Record<string, number> = {};
  for (const saga of truth.sagas()) {
    const types = typesBySaga.get(saga.sagaId) ?? [];
    const want = EVENTS_OF[saga.scenario];
    for (const t of want) {
      const n = types.filter((x) => x === t).length;
      if (n === 0) {
        lostEvents += 1;
        example('lost', `${saga.sagaId} (${saga.scenario}) has no ${t}`);
      } else if (n > 1) {
        duplicateEffects += n - 1;
        example('effect twice', `${saga.sagaId} has ${n}× ${t}`);
      }
    }
    for (const t of new Set(types)) {
      if (!want.includes(t)) {
        unexpectedEvents += types.filter((x) => x === t).length;
        example('unexpected', `${saga.sagaId} (${saga.scenario}) has ${t}`);
      }
    }
    const end = types.includes('com.acme.orders.OrderCompleted')
      ? 'completed'
      : types.includes('com.acme.orders.OrderCancelled')
        ? EXPECTED[saga.scenario] === 'compensated' && want.every((t) => types.includes(t))
          ? 'compensated'
          : 'cancelled-incomplete'
        : 'not-ended';
    kafka[end] = (kafka[end] ?? 0) + 1;
  }

  const tracked = await trackerSagas(args.trackerUrl, prefix);
  // The same statuses as the ground truth's tally (fault runs place no silent carrier, so a saga the
  // tracker shows timed out would also count as a mismatch below).
  const tracker: Record<string, number> = { completed: 0, compensated: 0, 'timed-out': 0, failed: 0, stuck: 0 };
  let trackerMismatches = 0;
  for (const saga of truth.sagas()) {
    const t = tracked.get(saga.sagaId);
    const status = t?.status ?? 'missing';
    tracker[status] = (tracker[status] ?? 0) + 1;
    const wantCount = EVENTS_OF[saga.scenario].length;
    if (status !== EXPECTED[saga.scenario] || t?.eventCount !== wantCount) {
      trackerMismatches += 1;
      example(
        'tracker',
        `${saga.sagaId}: ${status} with ${t?.eventCount ?? 0} events, expected ${EXPECTED[saga.scenario]} with ${wantCount}`,
      );
    }
  }
  for (const id of tracked.keys()) {
    if (truth.get(id) === undefined) {
      trackerMismatches += 1;
      example('tracker', `${id} was never placed`);
    }
  }
  return {
    sagas: truth.size,
    outcomes: { expected: truth.expectedOutcomes(), kafka, tracker },
    events,
    duplicatesByCeId,
    republishedByRelay,
    duplicateEffects,
    lostEvents,
    unexpectedEvents,
    trackerMismatches,
    deadLetteredGood,
    examples,
  };
}

/** True when a verification found nothing wrong. */
export function verified(v: Verification): boolean {
  return (
    v.duplicatesByCeId === 0 &&
    v.duplicateEffects === 0 &&
    v.lostEvents === 0 &&
    v.unexpectedEvents === 0 &&
    v.trackerMismatches === 0 &&
    v.deadLetteredGood === 0
  );
}
