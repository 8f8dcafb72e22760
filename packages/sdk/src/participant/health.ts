import { describeError } from '../errors.js';
import type { CircuitReport } from '../flow/flow-control.js';
import type { ConsumerHandle, Transport } from '../transport/transport.js';
import type { NormalizedOptions } from './participant-options.js';

/** What a participant reports about itself to health checks. */
export interface ParticipantHealth {
  /** The consumer runs (not closed, not crashed). */
  readonly live: boolean;
  /** Live, broker reachable, and not stalled (behind while nothing completed recently). */
  readonly ready: boolean;
  /**
   * Ready, but not everything flows: a circuit breaker is open or half-open, so the events of its
   * handler wait (the `circuit <name>` details say why). Restarting does not help; the downstream
   * has to recover.
   */
  readonly degraded: boolean;
  readonly details: Readonly<Record<string, string>>;
}

export interface HealthInputs {
  readonly closed: boolean;
  readonly consumer: ConsumerHandle | undefined;
  readonly transport: Transport;
  /** When the participant last completed a batch (ms since the epoch). */
  readonly lastProgressAt: number;
  readonly opts: Pick<NormalizedOptions, 'groupId' | 'maxBatchMs' | 'handlerTimeoutMs'>;
  /** Circuit breakers that are not closed. */
  readonly circuits?: readonly CircuitReport[];
  /** The in-process outbox relay, if any: its readiness (database, age of the oldest waiting row) counts too. */
  readonly relay?: { health(): Promise<{ readonly ready: boolean; readonly details: Readonly<Record<string, string>> }> } | undefined;
}

/** Liveness, readiness and their reasons, from the consumer's state and one broker round trip. */
export async function participantHealth(p: HealthInputs): Promise<ParticipantHealth> {
  const details: Record<string, string> = {};
  const live = !p.closed && p.consumer !== undefined && p.consumer.isRunning();
  details['consumer'] = live ? 'running' : p.closed ? 'closed' : 'stopped (crashed? see the logs)';
  let brokerOk = false;
  try {
    await p.transport.ping();
    brokerOk = true;
    details['broker'] = 'reachable';
  } catch (err) {
    details['broker'] = `unreachable: ${describeError(err)}`;
  }
  const lag = live ? await p.consumer?.lag() : undefined;
  const now = Date.now();
  const idleMs = now - p.lastProgressAt;
  // Stalled: work is waiting but nothing completed for a long while (a wedged handler or broker).
  const bound = Math.max(60_000, p.opts.maxBatchMs * 20, p.opts.handlerTimeoutMs * 2);
  let stalled = lag !== undefined && lag > 0 && idleMs > bound;
  details['lag'] = lag === undefined ? 'unknown' : String(lag);
  if (stalled) details['stalled'] = `no batch completed for ${Math.round(idleMs / 1000)}s with ${lag} messages waiting`;
  for (const c of p.circuits ?? []) {
    details[`circuit ${c.name}`] = `${c.state} since ${new Date(c.since).toISOString()}: ${c.reason}`;
  }
  // Waiting behind an open breaker is the breaker working, not a stall: those partitions are not
  // reported stalled while it is open.
  const waiting = (p.circuits ?? []).length > 0;
  if (waiting) stalled = false;
  // A single partition number can stall while others flow: records queued, nothing committed.
  const workers = p.consumer?.workers?.() ?? [];
  if (workers.length > 0) {
    const records = workers.reduce((n, w) => n + w.queued, 0);
    const bytes = workers.reduce((n, w) => n + (w.bytes ?? 0), 0);
    details['queued'] = `${records} records, ${bytes} bytes fetched and not yet committed`;
  }
  const stuck = workers.filter((w) => w.queued > 0 && now - w.lastProgressAt > bound);
  if (stuck.length > 0 && !waiting) {
    stalled = true;
    details['stalledPartitions'] = stuck
      .map(
        (w) =>
          `${w.partition} (${w.queued} queued, ${Math.round((now - w.lastProgressAt) / 1000)}s without a commit` +
          `${w.lastError === undefined ? '' : `; last commit failed: ${w.lastError}`})`,
      )
      .join(', ');
  }
  if (live && p.consumer) {
    const owned = p.consumer.assignment();
    const joins = p.consumer.joins?.();
    details['group'] = `${p.opts.groupId}: ${owned.length} topic-partitions${joins === undefined ? '' : `, assigned ${joins} times`}`;
  }
  let relayReady = true;
  if (p.relay) {
    const r = await p.relay.health();
    relayReady = r.ready;
    for (const [k, v] of Object.entries(r.details)) details[`outbox.${k}`] = v;
  }
  const degraded = waiting;
  if (degraded) details['degraded'] = 'circuit breaker not closed; its events wait (see the circuit details)';
  return { live, ready: live && brokerOk && !stalled && relayReady, degraded, details };
}
