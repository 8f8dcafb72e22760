import { SdkError } from '../errors.js';
import type { Transport } from '../transport/transport.js';

/**
 * Creates the timer topic if missing: compacted (one record per pending timer, tombstones for the
 * fired and cancelled ones) and with the saga topics' partition count, since a saga's timers live
 * on its partition number. An existing one with another count is refused.
 */
export async function ensureTimerTopic(
  transport: Transport,
  args: {
    readonly owner: string;
    readonly topic: string;
    readonly partitions: number;
    /** @default the broker's default */
    readonly replicationFactor: number | undefined;
  },
): Promise<void> {
  const counts = await transport.ensureTopics([
    {
      topic: args.topic,
      partitions: args.partitions,
      ...(args.replicationFactor !== undefined ? { replicationFactor: args.replicationFactor } : {}),
      config: { 'cleanup.policy': 'compact' },
    },
  ]);
  const n = counts.get(args.topic);
  if (n !== undefined && n !== args.partitions) {
    throw new SdkError(
      'TOPIC_PARTITIONS_MISMATCH',
      `${args.owner}: timer topic ${args.topic} has ${n} partitions but the saga topics have ${args.partitions}, so timers would ` +
        `land on other partition numbers than their sagas. Give it ${args.partitions} partitions ` +
        `(kafka-topics.sh --alter --topic ${args.topic} --partitions ${args.partitions}) before starting, or delete it while no timer is pending.`,
    );
  }
}
