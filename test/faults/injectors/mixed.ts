import { setTimeout as sleep } from 'node:timers/promises';
import type { FaultContext } from '../driver/fault-run.js';
import { killOneParticipant } from './participant-crashes.js';

/** One fault, injected once; resolves when the system is back (or the fault is over). */
type OneFault = (ctx: FaultContext) => Promise<void>;

/**
 * The soak's injector: every ~`meanIntervalMs` one fault chosen at random among those this run can
 * inject (broker faults only on its own cluster, registry faults only on its own registry).
 */
export async function mixedFaults(ctx: FaultContext, o: { readonly meanIntervalMs: number }): Promise<void> {
  const faults: OneFault[] = [killOneParticipant];
  while (!ctx.placingDone.aborted) {
    await sleep(o.meanIntervalMs * (0.5 + ctx.random()), undefined, { signal: ctx.placingDone }).catch(() => undefined);
    if (ctx.placingDone.aborted) break;
    const fault = faults[Math.floor(ctx.random() * faults.length)];
    if (fault !== undefined) await fault(ctx);
  }
}
