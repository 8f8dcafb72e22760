import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel, type KafkaConfig } from 'kafkajs';
import { kafkaBrokers } from './brokers.js';
import { TestingError } from './errors.js';

/** A name no other test (or earlier run) uses: `<prefix>-<time>-<random>`. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

/** A fresh topic name; create it with `createTopics` before consuming (KRaft brokers reject unknown topics). */
export function uniqueTopic(prefix = 'test-topic'): string {
  return uniqueName(prefix);
}

/** A fresh consumer group id. */
export function uniqueGroup(prefix = 'test-group'): string {
  return uniqueName(prefix);
}

/** A kafkajs client on the test brokers, quiet unless something is really wrong. */
export function testKafka(config: Partial<KafkaConfig> = {}): Kafka {
  return new Kafka({
    clientId: 'troupe-test',
    brokers: kafkaBrokers(),
    logLevel: logLevel.ERROR,
    ...config,
  });
}

export interface TopicSpec {
  readonly topic: string;
  /** Explicit on purpose: key-to-partition tests depend on it. */
  readonly partitions: number;
  /** @default the broker's `default.replication.factor` */
  readonly replicationFactor?: number;
  /** Topic configs, e.g. `{ 'cleanup.policy': 'compact' }`. @default {} */
  readonly config?: Readonly<Record<string, string>>;
}

/**
 * Creates topics and waits until every partition has a leader, so producers and consumers can use
 * them at once. Fails if a topic already exists (a test reusing a name is a bug).
 */
export async function createTopics(topics: readonly TopicSpec[], brokers: readonly string[] = kafkaBrokers()): Promise<void> {
  const admin = new Kafka({ clientId: 'troupe-test-admin', brokers: [...brokers], logLevel: logLevel.ERROR }).admin();
  await admin.connect();
  try {
    const created = await admin.createTopics({
      waitForLeaders: true,
      topics: topics.map((t) => ({
        topic: t.topic,
        numPartitions: t.partitions,
        ...(t.replicationFactor !== undefined ? { replicationFactor: t.replicationFactor } : {}),
        configEntries: Object.entries(t.config ?? {}).map(([name, value]) => ({ name, value })),
      })),
    });
    if (!created) {
      throw new TestingError(
        'INVALID_OPTIONS',
        `createTopics: one of ${topics.map((t) => t.topic).join(', ')} already exists; use uniqueTopic() names.`,
      );
    }
    await waitFor(
      async () => {
        const { topics: meta } = await admin.fetchTopicMetadata({ topics: topics.map((t) => t.topic) });
        return topics.every((spec) => {
          const found = meta.find((m) => m.name === spec.topic);
          return found !== undefined && found.partitions.length === spec.partitions && found.partitions.every((p) => p.leader >= 0);
        });
      },
      { description: `leaders for topics ${topics.map((t) => t.topic).join(', ')}` },
    );
  } finally {
    await admin.disconnect();
  }
}

export interface WaitOptions {
  /** @default 30_000 */
  readonly timeoutMs?: number;
  /** @default 100 */
  readonly intervalMs?: number;
  /** What is awaited, for the timeout message. @default 'condition' */
  readonly description?: string;
}

/**
 * Polls `read` until it returns something other than undefined and resolves that value; throws
 * WAIT_TIMEOUT with the description and the last error seen when time runs out.
 */
export async function waitForValue<T>(read: () => T | undefined | Promise<T | undefined>, options: WaitOptions = {}): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const intervalMs = options.intervalMs ?? 100;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await read();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const why = lastError instanceof Error ? ` Last error: ${lastError.message}` : '';
      throw new TestingError('WAIT_TIMEOUT', `Timed out after ${timeoutMs} ms waiting for ${options.description ?? 'condition'}.${why}`, {
        cause: lastError,
      });
    }
    await sleep(intervalMs);
  }
}

/** Polls `predicate` until it is true; throws WAIT_TIMEOUT otherwise. */
export async function waitFor(predicate: () => boolean | Promise<boolean>, options: WaitOptions = {}): Promise<void> {
  await waitForValue(async () => ((await predicate()) ? true : undefined), options);
}
