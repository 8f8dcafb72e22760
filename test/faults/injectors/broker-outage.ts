import { setTimeout as sleep } from 'node:timers/promises';
import { createKafkaClient } from '@troupe/kafka';
import { pino } from 'pino';
import type { FaultContext } from '../driver/fault-run.js';
import { DOMAIN_TOPICS } from '../driver/verify.js';

const pause = (ms: number): Promise<void> => sleep(ms);

/** Waits until `n` orders are placed (or placing is over). */
export async function afterOrders(ctx: FaultContext, n: number): Promise<void> {
  while (!ctx.placingDone.aborted && ctx.placed() < n) await pause(200);
}

function ownCluster(ctx: FaultContext): NonNullable<FaultContext['cluster']> {
  if (ctx.cluster === undefined) throw new Error('broker faults need the run to start its own cluster (not --brokers)');
  return ctx.cluster;
}

/**
 * Takes a broker away for `downMs` (SIGKILL: no clean shutdown) and starts it again on the same
 * ports and data; with one broker, the whole cluster is gone meanwhile.
 */
export async function stopBroker(ctx: FaultContext, o: { readonly nodeId?: number; readonly downMs: number }): Promise<void> {
  const cluster = ownCluster(ctx);
  const nodeId = o.nodeId ?? 1;
  await cluster.kill(nodeId);
  ctx.count('brokerDown', `node-${nodeId}`);
  ctx.log(`broker ${nodeId} SIGKILLed after ${ctx.placed()} orders; down for ${o.downMs / 1000} s`);
  await pause(o.downMs);
  await cluster.restart(nodeId);
  ctx.log(`broker ${nodeId} restarted after ${ctx.placed()} orders`);
}

/** The node leading the partition of the domain topics with the most records. */
export async function leaderOfBusiestPartition(ctx: FaultContext): Promise<{ nodeId: number; partition: string }> {
  const admin = createKafkaClient({ brokers: ctx.brokers, clientId: 'fault-leader', logger: pino({ level: 'silent' }) }).admin();
  await admin.connect();
  try {
    let best = { nodeId: 1, partition: '?', size: -1n };
    const { topics } = await admin.fetchTopicMetadata({ topics: [...DOMAIN_TOPICS] });
    for (const t of topics) {
      const offsets = await admin.fetchTopicOffsets(t.name);
      for (const p of t.partitions) {
        const o = offsets.find((x) => x.partition === p.partitionId);
        const size = o === undefined ? 0n : BigInt(o.high) - BigInt(o.low);
        if (size > best.size) best = { nodeId: p.leader, partition: `${t.name}/${p.partitionId}`, size };
      }
    }
    return { nodeId: best.nodeId, partition: best.partition };
  } finally {
    await admin.disconnect();
  }
}

/** SIGKILLs the leader of the busiest partition, keeps it down for `downMs`, restarts it. */
export async function killBusiestLeader(ctx: FaultContext, o: { readonly downMs: number }): Promise<void> {
  const { nodeId, partition } = await leaderOfBusiestPartition(ctx);
  ctx.log(`the busiest partition is ${partition}, led by broker ${nodeId}`);
  ctx.count('leaderKilled', partition.split('/')[0] ?? '?');
  await stopBroker(ctx, { nodeId, downMs: o.downMs });
}

/** Restarts every broker in turn (SIGKILL, restart, wait for it to serve), `gapMs` apart. */
export async function rollingRestart(ctx: FaultContext, o: { readonly gapMs: number }): Promise<void> {
  const cluster = ownCluster(ctx);
  for (const node of cluster.nodeInfo) {
    await cluster.kill(node.nodeId);
    ctx.count('rollingRestart', `node-${node.nodeId}`);
    ctx.log(`rolling restart: broker ${node.nodeId} down after ${ctx.placed()} orders`);
    await pause(2000);
    await cluster.restart(node.nodeId);
    await pause(o.gapMs);
  }
}
