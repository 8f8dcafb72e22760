import type { Logger } from 'pino';
import { describeError } from '../errors.js';
import type { FinishedAhead } from '../flow/finished-ahead.js';
import { runBySaga } from '../flow/saga-chains.js';
import type { BatchOutcome, OutboundRecord, PartitionBatch } from '../transport/transport.js';
import type { Inbox, InboxBatch } from '../inbox/inbox.js';
import type { Dispatcher } from './dispatch.js';
import type { MessageOutcome } from './outcomes.js';
import type { ParkedSagas } from './parking.js';
import type { OutputRefusals } from './output-refusals.js';
import type { Clock } from '../timers/clock.js';
import type { TimerService } from '../timers/timer-service.js';
import { BatchTimers } from '../timers/batch-timers.js';
import { BatchBranches } from './branch-state.js';
import type { SagaClock } from '../timers/saga-clock.js';
import type { DeadSagas } from '../dead-letter/dead-sagas.js';

export interface BatchLoopDeps {
  readonly dispatcher: Dispatcher;
  readonly parked: ParkedSagas;
  /** Sagas given up on, rebuilt from the dead-letter topics per partition number. */
  readonly deadSagas: DeadSagas;
  /** Which input events were handled already; undefined when the participant runs without one. */
  readonly inbox: Inbox | undefined;
  readonly logger: Logger;
  /** Commits the broker refused (see {@link OutputRefusals}). */
  readonly refusals: OutputRefusals;
  /** A batch is committed once its handlers took this long, even if it is not finished. */
  readonly maxBatchMs: number;
  /** Sagas of the batch handled at the same time (each saga's messages one after the other). */
  readonly sagaConcurrency: number;
  /** Outcomes of messages finished beyond what their batch committed, reused when delivered again. */
  readonly finishedAhead: FinishedAhead;
  /** Called when a batch finished at least one message (for the stalled check). */
  readonly onProgress: () => void;
  /** Due dates of retries (the transport's clock). */
  readonly clock: Clock;
  /** The participant's durable timers, if it has a timer topic. */
  readonly timers?: TimerService;
  /** The initiator's saga deadlines and abort requests (timers/saga-clock.ts), if it keeps any. */
  readonly sagaClock?: SagaClock;
}

/**
 * Handles one partition batch: each saga's messages in order, different sagas side by side, until
 * a message cannot be finished now (not due, open circuit, transient trouble), the batch takes too
 * long, or the partition is taken away. Reports how many messages from the start are done and what
 * they emitted, so the transport commits exactly those; the rest is delivered again.
 */
export async function handleBatch(deps: BatchLoopDeps, batch: PartitionBatch): Promise<BatchOutcome> {
  const timers = deps.timers;
  // An empty batch: the transport asks because timers fell due (see ConsumerSpec.wakeAt).
  if (batch.messages.length === 0) return timers ? timers.tick(batch.partition) : { outputs: [], processed: 0 };
  let inbox: InboxBatch | undefined;
  try {
    await deps.parked.restore(batch.partition);
    await timers?.restore(batch.partition);
    await deps.deadSagas.restore(batch.partition);
    inbox = await deps.inbox?.open(batch.partition);
  } catch (err) {
    deps.logger.warn(
      { partition: batch.partition, err: describeError(err) },
      'cannot read the retry topic, the timer topic, the dead-letter topics or the inbox yet; the batch will be delivered again',
    );
    return { outputs: [], processed: 0 };
  }
  // Taken away while its state was read: the next owner handles it, with state read after it took over.
  if (batch.isStale()) return { outputs: [], processed: 0 };
  const started = Date.now();
  // Changes to the parked-saga counts take effect for others only once the batch is committed.
  const ledger = deps.parked.ledger();
  // Sagas given up on by the batch's records count for its later records now, for others once committed.
  const dead = deps.deadSagas.batch();
  const results: (MessageOutcome | undefined)[] = [];
  const finished = new Map<number, ReadonlyMap<string, number>>();
  // No message from here on is started: one before it cannot be finished, so nothing after it commits.
  let stopAt = batch.messages.length;
  const clocked = deps.sagaClock && timers ? new BatchTimers(deps.sagaClock, timers.topic) : undefined;
  // Parallel-group state lives on the timer topic too (ADR 0017).
  const branches = timers ? new BatchBranches(timers, batch.partition, () => deps.clock.now()) : undefined;
  const sagaOf = (m: { readonly key: Buffer | null }): string => m.key?.toString() ?? '';
  // Right after the broker refused a batch's commit, one record per batch finds the one it refuses.
  const limit = deps.refusals.batchLimit(batch.partition) ?? batch.messages.length;
  await runBySaga(batch.messages, deps.sagaConcurrency, async (message, i) => {
    if (i >= limit || i > stopAt || (i > 0 && (batch.isStale() || Date.now() - started > deps.maxBatchMs))) {
      stopAt = Math.min(stopAt, i);
      return false;
    }
    const scope = ledger.message(i);
    const earlier = deps.finishedAhead.get(message);
    if (earlier) {
      for (const [saga, by] of earlier.parking) scope.park(saga, by);
      results[i] = { kind: 'done', outputs: earlier.outputs };
      dead.note(earlier.outputs);
      clocked?.note(message, earlier.outputs);
      branches?.note(sagaOf(message), earlier.outputs);
      scope.keep();
      return true;
    }
    let outcome: MessageOutcome;
    try {
      const handle = (): Promise<MessageOutcome> => deps.dispatcher.handle(message, batch, { ledger: scope, dead, inbox, branches });
      outcome = clocked ? await clocked.run(message, handle) : await handle();
    } catch (err) {
      // Nothing expected throws; anything that does is treated as trouble worth another delivery.
      outcome = { kind: 'transient', reason: describeError(err) };
    }
    results[i] = outcome;
    if (outcome.kind !== 'done') {
      stopAt = Math.min(stopAt, i);
      return false;
    }
    scope.keep();
    dead.note(outcome.outputs);
    branches?.note(sagaOf(message), outcome.outputs);
    finished.set(i, scope.changes);
    return true;
  });
  const outputs: OutboundRecord[] = [];
  let processed = 0;
  for (let r = results[0]; r?.kind === 'done'; r = results[++processed]) outputs.push(...r.outputs);
  const stop = results[processed];
  let retryAfterMs: number | undefined;
  if (stop?.kind === 'not-due') retryAfterMs = Math.max(1, stop.dueAt - deps.clock.now());
  else if (stop?.kind === 'transient') {
    const message = batch.messages[processed];
    deps.logger.warn(
      { topic: message?.topic, partition: message?.partition, offset: message?.offset, err: stop.reason },
      'transient failure; the event will be delivered again',
    );
  }
  // Finished beyond the committed prefix: kept, so the next delivery does not run them again.
  batch.messages.forEach((m, i) => {
    const r = results[i];
    if (i > processed && r?.kind === 'done') deps.finishedAhead.set(m, { outputs: r.outputs, parking: finished.get(i) ?? new Map() });
  });
  if (processed > 0) deps.onProgress();
  return {
    outputs,
    processed,
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    afterCommit: () => {
      ledger.apply(processed);
      inbox?.committed(outputs);
      deps.deadSagas.applyCommitted(outputs);
      deps.finishedAhead.committed(batch.messages.slice(0, processed));
      deps.refusals.committed(batch.partition, batch.messages.slice(0, processed));
      timers?.applyCommitted(batch.partition, outputs);
    },
    onCommitFailed: (err) => deps.refusals.commitFailed(batch.partition, batch.messages.slice(0, processed), err),
  };
}
