import { setTimeout as sleep } from 'node:timers/promises';
import type { FaultContext } from '../driver/fault-run.js';
import { SERVICE_NAMES, type ServiceName } from '../driver/service-fleet.js';

export interface CrashOptions {
  /** Mean pause between kills. */
  readonly meanIntervalMs: number;
  /** Share of kills aimed at a service that has just been restarted and is joining its group. @default 0.4 */
  readonly rejoinShare?: number;
}

const pause = (ctx: FaultContext, ms: number): Promise<void> => sleep(ms, undefined, { signal: ctx.placingDone }).catch(() => undefined);

/** SIGKILLs one random participant process (counted as `sigkill` by service). */
export async function killOneParticipant(ctx: FaultContext): Promise<void> {
  const target = SERVICE_NAMES[Math.floor(ctx.random() * SERVICE_NAMES.length)] ?? 'payment-service';
  if (ctx.fleet.kill(target)) {
    ctx.count('sigkill', target);
    ctx.log(`SIGKILL ${target} after ${ctx.placed()} orders`);
  }
  return Promise.resolve();
}

/**
 * SIGKILLs a random participant process at random moments while orders flow — mostly while its
 * handlers run inside Kafka transactions (load is steady), and a share of them a second or two
 * after the supervisor restarted a process, while it rejoins its group (a rebalance).
 */
export async function crashParticipants(ctx: FaultContext, o: CrashOptions): Promise<void> {
  let lastKilled: ServiceName | undefined;
  while (!ctx.placingDone.aborted) {
    await pause(ctx, o.meanIntervalMs * (0.5 + ctx.random()));
    if (ctx.placingDone.aborted) break;
    let target = SERVICE_NAMES[Math.floor(ctx.random() * SERVICE_NAMES.length)] ?? 'payment-service';
    let rejoin = false;
    if (lastKilled !== undefined && ctx.random() < (o.rejoinShare ?? 0.4)) {
      // Wait until the supervisor has started it again, then kill it while it joins its group.
      target = lastKilled;
      const killedAt = ctx.fleet.lastKillAt(target);
      while (!ctx.placingDone.aborted && ctx.fleet.startedAt(target) <= killedAt) await pause(ctx, 100);
      await pause(ctx, 1000 + ctx.random() * 2000);
      rejoin = true;
    }
    if (ctx.placingDone.aborted) break;
    if (ctx.fleet.kill(target)) {
      ctx.count('sigkill', target);
      if (rejoin) ctx.count('sigkillWhileRejoining');
      lastKilled = target;
      ctx.log(`SIGKILL ${target}${rejoin ? ' (while it rejoins its group)' : ''} after ${ctx.placed()} orders`);
    }
  }
}
