import type { Admin } from 'kafkajs';

/** Error types after which a topic counts as absent rather than failing the whole question. */
const ABSENT = new Set(['UNKNOWN_TOPIC_OR_PARTITION', 'TOPIC_AUTHORIZATION_FAILED']);

/**
 * The partition count of each of `topics` that exists and may be described; absent ones are left
 * out.
 *
 * Each topic is asked about on its own, never through a list of every topic: kafkajs fails a whole
 * metadata answer when any partition in it has no leader, so one unrelated topic with an offline
 * partition (replication 1 on a broker that is down) would otherwise stop every caller. A topic
 * the principal may not describe counts as absent, as the broker leaves it out of its list too;
 * creating it then fails with NOT_AUTHORIZED naming the topic.
 */
export async function topicPartitionCounts(admin: Admin, topics: readonly string[]): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  await Promise.all(
    [...new Set(topics)].map(async (topic) => {
      try {
        const { topics: found } = await admin.fetchTopicMetadata({ topics: [topic] });
        const meta = found.find((t) => t.name === topic);
        if (meta && meta.partitions.length > 0) counts.set(topic, meta.partitions.length);
      } catch (err) {
        const type = typeof err === 'object' && err !== null ? (err as { type?: unknown }).type : undefined;
        if (typeof type !== 'string' || !ABSENT.has(type)) throw err;
      }
    }),
  );
  return counts;
}
