/**
 * Names of the topics Troupe derives from others. The SDK creates and writes them, the tracker and
 * the tools read them: one definition, so a custom suffix cannot be honoured in one place and
 * forgotten in another.
 */

/** Suffix of a topic's dead-letter topic unless a participant is configured otherwise. */
export const DEAD_LETTER_SUFFIX = '.dlq';

/** Suffix of a consumer group's retry topic unless a participant is configured otherwise. */
export const RETRY_SUFFIX = '.retry';

/** The dead-letter topic of `topic` (`orders` → `orders.dlq`). */
export function deadLetterTopicOf(topic: string, suffix: string = DEAD_LETTER_SUFFIX): string {
  return `${topic}${suffix}`;
}

/** Whether `topic` is a dead-letter topic by its name. */
export function isDeadLetterTopic(topic: string, suffix: string = DEAD_LETTER_SUFFIX): boolean {
  return topic.endsWith(suffix);
}

/** The topic a dead-letter topic belongs to (`orders.dlq` → `orders`), or `undefined`. */
export function sourceTopicOf(deadLetterTopic: string, suffix: string = DEAD_LETTER_SUFFIX): string | undefined {
  return isDeadLetterTopic(deadLetterTopic, suffix) ? deadLetterTopic.slice(0, -suffix.length) : undefined;
}

/** The retry topic of a participant's consumer group (`payment-service` → `payment-service.retry`). */
export function retryTopicOf(groupId: string, suffix: string = RETRY_SUFFIX): string {
  return `${groupId}${suffix}`;
}

/** Suffix of a consumer group's inbox topic (the input events it handled, ADR 0011). */
export const INBOX_SUFFIX = '.inbox';

/** The inbox topic of a participant's consumer group (`payment-service` → `payment-service.inbox`). */
export function inboxTopicOf(groupId: string, suffix: string = INBOX_SUFFIX): string {
  return `${groupId}${suffix}`;
}

/** Suffix of a consumer group's timer topic (durable timers, saga deadlines). */
export const TIMERS_SUFFIX = '.timers';

/** The timer topic of a participant's consumer group (`order-service` → `order-service.timers`). */
export function timerTopicOf(groupId: string, suffix: string = TIMERS_SUFFIX): string {
  return `${groupId}${suffix}`;
}

/**
 * A saga type's control topic (`order-fulfillment` → `order-fulfillment.control`): operators'
 * requests to the saga's initiator (`troupe-saga abort`) and its answers, co-partitioned with the
 * saga's topics.
 */
export function controlTopicOf(sagaType: string): string {
  return `${sagaType}.control`;
}

/**
 * Prefix of a participant's transactional ids: one producer per partition number,
 * `<prefix>-<partition>` (ADR 0009), so a partition number's next owner fences the previous one. ACLs grant
 * it as a prefixed TRANSACTIONAL_ID resource.
 */
export function transactionalIdPrefixOf(groupId: string): string {
  return `troupe-${groupId}`;
}

/** Prefix of the throw-away consumer groups of the SDK's topic reader (retry-topic restore, tools). */
export const READER_GROUP_PREFIX = 'troupe-reader-';

/** The tracker's consumer group (PostgreSQL store); with the memory store each instance adds a random suffix. */
export const TRACKER_GROUP = 'troupe-tracker';
