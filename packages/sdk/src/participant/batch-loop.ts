import type { Logger } from 'pino';
import { describeError } from '../errors.js';
import type { BatchOutcome, OutboundRecord, PartitionBatch } from '../transport/transport.js';
import type { Inbox, InboxBatch } from '../inbox/inbox.js';
import type { Dispatcher } from './dispatch.js';
import type { MessageOutcome } from './outcomes.js';
import type { ParkedSagas } from './parking.js';

export interface BatchLoopDeps {
  readonly dispatcher: Dispatcher;
  readonly parked: ParkedSagas;
  /** Which input events were handled already; undefined when the participant runs without one. */
  readonly inbox: Inbox | undefined;
  readonly logger: Logger;
  /** A batch is committed once its handlers took this long, even if it is not finished. */
  readonly maxBatchMs: number;
  /** Called when a batch finished at least one message (for the stalled check). */
  readonly onProgress: () => void;
}

/**
 * Handles one partition batch in order until a message cannot be finished now (not due, transient
 * trouble), the batch takes too long, or the partition is taken away; reports how many messages are
 * done and what they emitted, so the transport commits exactly those.
 */
export async function handleBatch(deps: BatchLoopDeps, batch: PartitionBatch): Promise<BatchOutcome> {
  let inbox: InboxBatch | undefined;
  try {
    await deps.parked.restore(batch.partition);
    inbox = await deps.inbox?.open(batch.partition);
  } catch (err) {
    deps.logger.warn(
      { partition: batch.partition, err: describeError(err) },
      'cannot read the retry topic or the inbox yet; the batch will be delivered again',
    );
    return { outputs: [], processed: 0 };
  }
  const outputs: OutboundRecord[] = [];
  const started = Date.now();
  // Changes to the parked-saga counts take effect for others only once the batch is committed.
  const ledger = deps.parked.ledger();
  let processed = 0;
  let retryAfterMs: number | undefined;
  for (const message of batch.messages) {
    if (processed > 0 && (batch.isStale() || Date.now() - started > deps.maxBatchMs)) break;
    let outcome: MessageOutcome;
    try {
      outcome = await deps.dispatcher.handle(message, batch, ledger, inbox);
    } catch (err) {
      // Nothing expected throws; anything that does is treated as trouble worth another delivery.
      outcome = { kind: 'transient', reason: describeError(err) };
    }
    if (outcome.kind !== 'done') {
      ledger.dropMessage();
      if (outcome.kind === 'not-due') retryAfterMs = Math.max(1, outcome.dueAt - Date.now());
      else {
        deps.logger.warn(
          { topic: message.topic, partition: message.partition, offset: message.offset, err: outcome.reason },
          'transient failure; the event will be delivered again',
        );
      }
      break;
    }
    outputs.push(...outcome.outputs);
    ledger.keepMessage();
    processed += 1;
  }
  if (processed > 0) deps.onProgress();
  return {
    outputs,
    processed,
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    afterCommit: () => {
      ledger.apply();
      inbox?.committed();
    },
  };
}
