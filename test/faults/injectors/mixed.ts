import { setTimeout as sleep } from 'node:timers/promises';
import type { FaultContext } from '../driver/fault-run.js';
import { killBusiestLeader, stopBroker } from './broker-outage.js';
import { postgresOutage, registryOutage, restartTracker } from './dependency-outages.js';
import { killOneParticipant } from './participant-crashes.js';

/** One fault, injected once; resolves when the fault is over. */
type OneFault = (ctx: FaultContext) => Promise<void>;

/**
 * The faults this run can inject: participant and tracker crashes and PostgreSQL outages always;
 * broker faults only on the run's own cluster; registry outages only with the run's own registry.
 */
function availableFaults(ctx: FaultContext): OneFault[] {
  const faults: OneFault[] = [killOneParticipant, killOneParticipant, restartTracker, (c) => postgresOutage(c, { downMs: 10_000 })];
  if (ctx.cluster !== undefined) {
    faults.push(
      ctx.cluster.nodeInfo.length >= 3 ? (c) => killBusiestLeader(c, { downMs: 20_000 }) : (c) => stopBroker(c, { downMs: 20_000 }),
    );
  }
  if (ctx.registry !== undefined) faults.push((c) => registryOutage(c, { downMs: 15_000, coldStart: 'shipping-service' }));
  return faults;
}

/** The soak's injector: every ~`meanIntervalMs` one fault chosen at random among those available. */
export async function mixedFaults(ctx: FaultContext, o: { readonly meanIntervalMs: number }): Promise<void> {
  const faults = availableFaults(ctx);
  while (!ctx.placingDone.aborted) {
    await sleep(o.meanIntervalMs * (0.5 + ctx.random()), undefined, { signal: ctx.placingDone }).catch(() => undefined);
    if (ctx.placingDone.aborted) break;
    const fault = faults[Math.floor(ctx.random() * faults.length)];
    if (fault !== undefined) await fault(ctx);
  }
}
