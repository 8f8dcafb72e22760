import { setTimeout as sleep } from 'node:timers/promises';
import type { DemoOptions } from './options.js';
import { allSettled, fetchCounts, LiveLine, progressLine, trackerOutcomes, type TrackerCounts } from './progress.js';
import type { OrderPlaced } from './generated/events.js';
import { EXPECTED, orderFor, pickScenario, seededRandom, type ExpectedStatus } from './world.js';

export const SAGA_TYPE = 'order-fulfillment';

export interface Summary {
  readonly sagas: number;
  /** Rows in the order service's order table for this run (Kafka mode); must equal the sagas the tracker saw. */
  readonly orders?: number;
  readonly expected: Record<ExpectedStatus, number>;
  readonly tracker: Record<ExpectedStatus, number>;
}

/**
 * The shop front: places orders at the configured rate, keeps the ground truth of what each one
 * should end as, and shows the tracker's live counts. With `exitWhenDone`, returns the summary
 * once the tracker reports every saga settled.
 */
export async function driveOrders(opts: {
  readonly demo: DemoOptions;
  /** Places one order: through the order service's HTTP API (Kafka mode) or a publisher (embedded). */
  readonly place: (order: OrderPlaced) => Promise<void>;
  /** Counts the orders the order service stored with ids starting with the prefix (Kafka mode). */
  readonly countOrders?: (prefix: string) => Promise<number>;
  readonly trackerUrl: string;
  readonly signal: AbortSignal;
  /** Saga ids of this run start with it. */
  readonly sagaIdPrefix: string;
}): Promise<Summary | undefined> {
  const { demo, place, trackerUrl, signal, sagaIdPrefix } = opts;
  const random = seededRandom(demo.seed);
  const expected: Record<ExpectedStatus, number> = { completed: 0, compensated: 0, 'timed-out': 0, failed: 0, stuck: 0 };
  const live = new LiveLine();
  let placed = 0;
  let counts: TrackerCounts | undefined;
  let lastPoll = 0;
  const poll = async (): Promise<void> => {
    if (Date.now() - lastPoll < 500) return;
    lastPoll = Date.now();
    counts = await fetchCounts(trackerUrl, SAGA_TYPE, sagaIdPrefix);
    live.update(progressLine(placed, demo.sagas, counts));
  };

  process.stderr.write(`saga ids: ${sagaIdPrefix}*\n`);
  const started = Date.now();
  while (!signal.aborted && (demo.sagas === undefined || placed < demo.sagas)) {
    const scenario = pickScenario(random, demo.rates);
    const orderId = `${sagaIdPrefix}${String(placed + 1).padStart(6, '0')}`;
    await place(orderFor(orderId, scenario, random));
    expected[EXPECTED[scenario]] += 1;
    placed += 1;
    await poll();
    // Pace by schedule, not by fixed sleeps, so slow publishes do not lower the rate.
    const due = started + (placed * 1000) / demo.rate;
    if (due > Date.now()) await sleep(due - Date.now(), undefined, { signal }).catch(() => undefined);
  }

  while (!signal.aborted) {
    await sleep(250, undefined, { signal }).catch(() => undefined);
    lastPoll = 0;
    await poll();
    if (demo.exitWhenDone && counts !== undefined && allSettled(counts, placed)) {
      live.done(progressLine(placed, demo.sagas, counts));
      const orders = opts.countOrders ? await opts.countOrders(sagaIdPrefix) : undefined;
      return { sagas: placed, ...(orders !== undefined ? { orders } : {}), expected, tracker: trackerOutcomes(counts) };
    }
  }
  if (counts !== undefined) live.done(progressLine(placed, demo.sagas, counts));
  return undefined;
}
