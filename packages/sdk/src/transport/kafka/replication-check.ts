import type { Admin } from 'kafkajs';
import type { Logger } from 'pino';
import type { TopicSpec } from '../transport.js';

/**
 * The configs a topic is created with: the spec's own, plus `min.insync.replicas` =
 * `max(1, replicationFactor - 1)` when the spec sets a replication factor and no ISR of its own
 * (so `acks=all` writes survive the loss of one replica). Without a replication factor, both are
 * the broker's defaults.
 */
export function topicConfigOf(spec: TopicSpec): { name: string; value: string }[] {
  const config: Record<string, string> = { ...spec.config };
  if (spec.replicationFactor !== undefined && config['min.insync.replicas'] === undefined) {
    config['min.insync.replicas'] = String(Math.max(1, spec.replicationFactor - 1));
  }
  return Object.entries(config).map(([name, value]) => ({ name, value }));
}

/** Topics whose partitions have fewer than two replicas, on a cluster of more than one broker. */
export interface UnreplicatedTopics {
  readonly brokers: number;
  readonly topics: readonly string[];
}

/** Finds `topics` with replication factor 1 while the cluster has more than one broker. */
export async function findUnreplicated(admin: Admin, topics: readonly string[]): Promise<UnreplicatedTopics | undefined> {
  if (topics.length === 0) return undefined;
  const { brokers } = await admin.describeCluster();
  if (brokers.length <= 1) return undefined;
  const meta = await admin.fetchTopicMetadata({ topics: [...topics] });
  const single = meta.topics.filter((t) => t.partitions.some((p) => p.replicas.length < 2)).map((t) => t.name);
  return single.length > 0 ? { brokers: brokers.length, topics: single } : undefined;
}

/** The loud start-up warning for {@link findUnreplicated}'s answer. */
export function warnUnreplicated(logger: Logger, found: UnreplicatedTopics): void {
  logger.warn(
    { topics: found.topics, brokers: found.brokers },
    `REPLICATION FACTOR 1 on a ${found.brokers}-broker cluster: ${found.topics.join(', ')}. Losing any one broker takes ` +
      'their partitions offline and stops the sagas on them. Raise it (kafka-reassign-partitions.sh with a plan that ' +
      'lists 3 replicas per partition), and set default.replication.factor=3 and min.insync.replicas=2 on the brokers ' +
      'so topics Troupe creates get them (docs/participants.md, "Topics Troupe creates").',
  );
}
