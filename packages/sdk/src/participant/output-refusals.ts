import type { Logger } from 'pino';
import { describeError, SdkError } from '../errors.js';
import { recordSize, recordSizeBound } from '../transport/record-size.js';
import type { InboundMessage, OutboundRecord, Transport } from '../transport/transport.js';

/**
 * Broker error types that no retry can fix for the same records: too large, malformed, or a topic
 * the principal may not write. Anything else (leader moves, timeouts, fencing) is worth retrying.
 */
const REFUSALS = new Set([
  'MESSAGE_TOO_LARGE',
  'RECORD_LIST_TOO_LARGE',
  'INVALID_RECORD',
  'CORRUPT_MESSAGE',
  'INVALID_TIMESTAMP',
  'TOPIC_AUTHORIZATION_FAILED',
  'POLICY_VIOLATION',
]);

/** The broker's reason when `err` (or an error it wraps) is a refusal of the records themselves. */
export function refusalOf(err: unknown, depth = 0): string | undefined {
  if (typeof err !== 'object' || err === null || depth > 5) return undefined;
  if (err instanceof SdkError && err.code === 'OUTPUT_REFUSED') return err.message;
  const e = err as { type?: unknown; message?: unknown; cause?: unknown; originalError?: unknown; errors?: unknown };
  if (typeof e.type === 'string' && REFUSALS.has(e.type)) return `${e.type}: ${typeof e.message === 'string' ? e.message : ''}`;
  for (const inner of [e.cause, e.originalError, ...(Array.isArray(e.errors) ? (e.errors as unknown[]) : [])]) {
    const r = refusalOf(inner, depth + 1);
    if (r !== undefined) return r;
  }
  return undefined;
}

/** The first output larger than its topic's `max.message.bytes`, as an OUTPUT_REFUSED error. */
export function oversizedOutput(outputs: readonly OutboundRecord[], limits: ReadonlyMap<string, number>): SdkError | undefined {
  for (const r of outputs) {
    const limit = limits.get(r.topic);
    if (limit === undefined || recordSizeBound(r) <= limit) continue;
    const size = recordSize(r);
    if (size > limit) {
      return new SdkError(
        'OUTPUT_REFUSED',
        `MESSAGE_TOO_LARGE: an output to ${r.topic} takes ${size} bytes, more than the topic's max.message.bytes (${limit}); ` +
          'emit a reference to the data instead of the data, or raise max.message.bytes',
      );
    }
  }
  return undefined;
}

const keyOf = (m: InboundMessage): string => `${m.topic}/${m.partition}/${m.offset}`;

/**
 * What the broker refused of a partition's commits, so a refusal ends instead of repeating: a
 * refused batch of several records is delivered again one record at a time; a refused single
 * record is given up (its failure event, or the dead letter for `on` handlers); if that is refused
 * too, it is only dead-lettered. Kept in memory: after a restart the same steps repeat once.
 */
export class OutputRefusals {
  /** Per partition number: records of a refused batch still to be delivered one at a time. */
  private readonly split = new Map<number, number>();
  /** Per record: the broker's reason and how many of its commits were refused. */
  private readonly refused = new Map<string, { readonly reason: string; readonly times: number }>();

  /** How many records the next batch of `partition` may take (1 right after a refused batch). */
  batchLimit(partition: number): number | undefined {
    return (this.split.get(partition) ?? 0) > 0 ? 1 : undefined;
  }

  /** The commit of `messages` (the processed prefix of a batch) failed with `err`. */
  commitFailed(partition: number, messages: readonly InboundMessage[], err: unknown): void {
    const reason = refusalOf(err);
    const first = messages[0];
    if (reason === undefined || first === undefined) return;
    if (messages.length > 1) {
      this.split.set(partition, messages.length);
      return;
    }
    const before = this.refused.get(keyOf(first));
    this.refused.set(keyOf(first), { reason, times: (before?.times ?? 0) + 1 });
    if (this.refused.size > 10_000) this.refused.delete(this.refused.keys().next().value ?? '');
  }

  /** The batch committed: what was noted about its records is done. */
  committed(partition: number, messages: readonly InboundMessage[]): void {
    const left = (this.split.get(partition) ?? 0) - messages.length;
    if (left > 0) this.split.set(partition, left);
    else this.split.delete(partition);
    if (this.refused.size > 0) for (const m of messages) this.refused.delete(keyOf(m));
  }

  /** The broker's reason and the number of refusals if a commit with this record's outputs was refused. */
  of(message: InboundMessage): { readonly reason: string; readonly times: number } | undefined {
    return this.refused.size > 0 ? this.refused.get(keyOf(message)) : undefined;
  }
}

/**
 * Reads `max.message.bytes` of the topics once, into `into`. Where it cannot be read (no
 * DESCRIBE_CONFIGS permission, an old broker) outputs are not checked before sending; a refusal
 * by the broker still ends as described in {@link OutputRefusals}.
 */
export async function readOutputLimits(
  transport: Transport,
  topics: readonly string[],
  into: Map<string, number>,
  logger: Logger,
): Promise<void> {
  try {
    for (const [topic, bytes] of (await transport.maxMessageBytes?.(topics)) ?? new Map<string, number>()) into.set(topic, bytes);
  } catch (err) {
    logger.info(
      { err: describeError(err) },
      "cannot read the output topics' max.message.bytes; outputs are not size-checked before sending",
    );
  }
}
