import type { SagaProjection } from '../projection/index.js';
import type { ListQuery } from './saga-store.js';

/** What a saga can be searched by, besides its headline fields. */
export interface SearchFields {
  /** Everyone who emitted one of its events, or gave up on one (dead letters). */
  readonly participants: readonly string[];
  readonly eventTypes: readonly string[];
  readonly failureReasons: readonly string[];
}

export function searchFields(p: SagaProjection): SearchFields {
  const participants = new Set<string>();
  const eventTypes = new Set<string>();
  for (const n of p.causal.nodes) {
    participants.add(n.source);
    eventTypes.add(n.type);
  }
  for (const d of p.deadLetters) if (d.participant !== undefined) participants.add(d.participant);
  // A timeout's or an operator's reason is found like a failure's: "did not answer within", "customer called".
  const failureReasons = new Set([...p.failures.map((f) => f.reason), p.abort?.reason].filter((r): r is string => r !== undefined));
  return { participants: [...participants].sort(), eventTypes: [...eventTypes].sort(), failureReasons: [...failureReasons].sort() };
}

/** Keys of an inverted index (memory store): one per attribute value, participant and event type. */
export function postingKeys(p: SagaProjection): string[] {
  const f = searchFields(p);
  return [
    ...Object.entries(p.attributes).map(([k, v]) => attributeKey(k, v)),
    ...f.participants.map((x) => `p:${x}`),
    ...f.eventTypes.map((x) => `t:${x}`),
  ];
}

/** The posting keys a query requires (every one must match); empty when it has no exact search filter. */
export function requiredKeys(q: ListQuery): string[] {
  return [
    ...Object.entries(q.attributes ?? {}).map(([k, v]) => attributeKey(k, v)),
    ...(q.participant !== undefined ? [`p:${q.participant}`] : []),
    ...(q.eventType !== undefined ? [`t:${q.eventType}`] : []),
  ];
}

const attributeKey = (name: string, value: string): string => `a:${name}\u0000${value}`;

/** Whether a saga matches the query's search filters (attributes, participant, event type, reason). */
export function matchesSearch(p: SagaProjection, q: ListQuery): boolean {
  for (const [k, v] of Object.entries(q.attributes ?? {})) if (p.attributes[k] !== v) return false;
  if (q.participant === undefined && q.eventType === undefined && q.reason === undefined) return true;
  const f = searchFields(p);
  if (q.participant !== undefined && !f.participants.includes(q.participant)) return false;
  if (q.eventType !== undefined && !f.eventTypes.includes(q.eventType)) return false;
  if (q.reason !== undefined) {
    const needle = q.reason.toLowerCase();
    if (!f.failureReasons.some((r) => r.toLowerCase().includes(needle))) return false;
  }
  return true;
}
