import type { Logger } from 'pino';
import { SdkError } from '../errors.js';
import type { ParticipantMetrics } from '../operations/metrics.js';
import type { NormalizedOptions } from '../participant/participant-options.js';
import type { Transport } from '../transport/transport.js';
import type { Inbox } from './inbox.js';
import { TopicInbox } from './topic-inbox.js';

/**
 * The participant's inbox: the one it was given, none, or a {@link TopicInbox} whose topic is
 * created (compacted, one partition per partition number of the saga topics) when missing.
 */
export async function openInbox(
  transport: Transport,
  args: {
    readonly owner: string;
    readonly partitions: number;
    readonly opts: Pick<NormalizedOptions, 'inbox' | 'delivery' | 'replicationFactor'>;
    readonly logger: Logger;
    readonly instruments: ParticipantMetrics;
  },
): Promise<Inbox | undefined> {
  const { inbox } = args.opts;
  if (inbox === false) return undefined;
  if (!('retentionMs' in inbox) || typeof (inbox as Partial<Inbox>).open === 'function') return inbox as Inbox;
  const counts = await transport.ensureTopics([
    {
      topic: inbox.topic,
      partitions: args.partitions,
      ...(args.opts.replicationFactor !== undefined ? { replicationFactor: args.opts.replicationFactor } : {}),
      config: { 'cleanup.policy': 'compact,delete', 'retention.ms': String(inbox.retentionMs) },
    },
  ]);
  const have = counts.get(inbox.topic) ?? args.partitions;
  if (have < args.partitions) {
    throw new SdkError(
      'TOPIC_PARTITIONS_MISMATCH',
      `${args.owner}: the inbox topic ${inbox.topic} has ${have} partitions but the saga topics have ${args.partitions}; ` +
        `give it as many (kafka-topics.sh --alter --topic ${inbox.topic} --partitions ${args.partitions}) before starting.`,
    );
  }
  const { instruments } = args;
  const topicInbox = new TopicInbox({
    transport,
    topic: inbox.topic,
    delivery: args.opts.delivery,
    window: inbox.window,
    logger: args.logger,
    onEvicted: (ids) => instruments.inboxEvictions.inc({ participant: instruments.participant }, ids),
  });
  instruments.watchInboxFill(() => topicInbox.fill());
  return topicInbox;
}
