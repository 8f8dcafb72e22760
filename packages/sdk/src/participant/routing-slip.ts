import { headerString, type KafkaHeaders } from '@troupe/core';

/**
 * Header carrying the compensation logs of the saga's completed steps along the causal chain, like
 * a MassTransit routing slip: a step's log rides on every event caused (directly or transitively)
 * by its completion, so the failure event that triggers its compensation brings it back.
 */
export const ROUTING_SLIP_HEADER = 'troupe_logs';

export type RoutingSlip = Readonly<Record<string, unknown>>;

/** Reads the slip; a missing or unreadable header is an empty slip (the tracker never needs it). */
export function readRoutingSlip(headers: KafkaHeaders | undefined): RoutingSlip {
  const raw = headerString(headers, ROUTING_SLIP_HEADER);
  if (raw === undefined || raw === '') return {};
  try {
    const parsed: unknown = JSON.parse(raw);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as RoutingSlip) : {};
  } catch {
    return {};
  }
}

export function writeRoutingSlip(slip: RoutingSlip): string | undefined {
  return Object.keys(slip).length === 0 ? undefined : JSON.stringify(slip);
}
