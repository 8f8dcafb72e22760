import { SdkError } from '../errors.js';
import type { Transport } from './transport.js';

/**
 * Creates missing topics and refuses to go on when the saga's topics disagree on the partition
 * count: events of one saga would then land on different partition numbers and lose their order.
 * Missing topics get the count the existing ones share, else the configured one.
 */
export async function ensureSagaTopics(
  transport: Transport,
  args: {
    readonly owner: string;
    readonly sagaTopics: readonly string[];
    readonly extraTopics?: readonly string[];
    readonly partitions: number;
    /** @default the broker's default (see {@link TopicSpec}) */
    readonly replicationFactor?: number | undefined;
  },
): Promise<number> {
  const existing = await transport.partitionCounts(args.sagaTopics);
  assertSameCount(args.owner, existing);
  const partitions = existing.values().next().value ?? args.partitions;
  const all = [...new Set([...args.sagaTopics, ...(args.extraTopics ?? [])])];
  const rf = args.replicationFactor;
  const counts = await transport.ensureTopics(
    all.map((topic) => ({ topic, partitions, ...(rf !== undefined ? { replicationFactor: rf } : {}) })),
  );
  assertSameCount(args.owner, new Map(args.sagaTopics.map((t) => [t, counts.get(t) ?? partitions])));
  return partitions;
}

function assertSameCount(owner: string, counts: ReadonlyMap<string, number>): void {
  const distinct = new Set(counts.values());
  if (distinct.size <= 1) return;
  const listing = [...counts].map(([t, n]) => `${t}=${n}`).join(', ');
  const max = Math.max(...distinct);
  throw new SdkError(
    'TOPIC_PARTITIONS_MISMATCH',
    `${owner}: the saga's topics have different partition counts (${listing}), so one saga's events would land on ` +
      `different partitions and lose their order. Give them all ${max} partitions ` +
      `(kafka-topics.sh --alter --topic <t> --partitions ${max}) before starting.`,
  );
}
