import { HEADER, headerString } from '@troupe/core';
import type { Logger } from 'pino';
import type { Transport } from '../transport/transport.js';
import { readDeadLetter } from './dead-letter.js';
import { readReplayNote } from './replay.js';

/** Cap on sagas remembered per participant instance; the oldest are forgotten first. */
const DEAD_SAGAS_CAP = 100_000;

/**
 * What a participant knows of a saga it gave up on:
 * - `dead`: one of its events was dead-lettered, nothing failed the saga (poison input, an `on`
 *   handler, an unknown schema). Later forward events are dead-lettered behind it; a replay is handled.
 * - `failed`: it emitted the saga's failure with the dead letter (a step gave up), or undid a step
 *   of it: the saga compensates, and a replay of its forward events is refused.
 */
export type DeadSagaState = 'dead' | 'failed';

/** Whether a replayed event is handled, and if not, why. */
export type ReplayVerdict = { readonly handle: true } | { readonly handle: false; readonly reason: string };

/**
 * The sagas a participant gave up on (ADR 0012). Kept in memory and, after each assignment change,
 * rebuilt per partition number from the participant's own dead-letter topics: its dead letters
 * (`troupe_dlq_group` = its group; `troupe_dlq_failure` when the saga failed with them) and the
 * replay notes that `troupe-dlq replay` appends next to them. So the knowledge survives restarts
 * and rebalances, and a replay recorded there is not undone by a restart.
 */
export class DeadSagas {
  private readonly states = new Map<string, DeadSagaState>();
  private readonly restored = new Map<number, Promise<void>>();

  constructor(
    private readonly deps: {
      readonly transport: Transport;
      readonly groupId: string;
      /** The dead-letter topics the participant writes (one per input topic). */
      readonly deadLetterTopics: readonly string[];
      readonly logger: Logger;
    },
  ) {}

  stateOf(sagaId: string): DeadSagaState | undefined {
    return this.states.get(sagaId);
  }

  /** Remembers a saga given up on; `failed` is never downgraded to `dead`. */
  remember(sagaId: string, state: DeadSagaState): void {
    if (this.states.get(sagaId) === 'failed') return;
    this.states.delete(sagaId);
    this.states.set(sagaId, state);
    if (this.states.size > DEAD_SAGAS_CAP) {
      const oldest = this.states.keys().next().value;
      if (oldest !== undefined) this.states.delete(oldest);
    }
  }

  /**
   * A replay addressed to this participant's group arrived: refused for a failed saga (its steps are
   * being undone), otherwise the saga is no longer dead here and the event runs as if new.
   */
  admitReplay(sagaId: string): ReplayVerdict {
    const state = this.states.get(sagaId);
    if (state === 'failed') {
      return {
        handle: false,
        reason: `saga ${sagaId} already failed and compensates; running a step of it again would act on an undone saga (start a new saga instead)`,
      };
    }
    this.states.delete(sagaId);
    return { handle: true };
  }

  /** Partitions moved: what was known may belong to another member now. */
  forget(): void {
    this.states.clear();
    this.restored.clear();
  }

  /** Reads the partition number's dead letters and replay notes back once per assignment; rejects while unreadable. */
  restore(partition: number): Promise<void> {
    let p = this.restored.get(partition);
    if (!p) {
      p = this.read(partition);
      p.catch(() => this.restored.delete(partition));
      this.restored.set(partition, p);
    }
    return p;
  }

  private async read(partition: number): Promise<void> {
    const { transport, groupId, deadLetterTopics } = this.deps;
    const existing = await transport.partitionCounts(deadLetterTopics);
    let found = 0;
    for (const topic of deadLetterTopics) {
      if ((existing.get(topic) ?? 0) <= partition) continue;
      for (const record of await transport.readPartition(topic, partition, '0')) {
        const sagaId = headerString(record.headers, HEADER.sagaId) ?? record.key?.toString();
        if (sagaId === undefined) continue;
        const dead = readDeadLetter(record.headers);
        if (dead && dead.group === groupId) {
          // Failed: the saga's failure went out with it, or it was the trigger of a compensation here.
          const role = headerString(record.headers, HEADER.sagaRole);
          const failed = dead.failure !== undefined || role === 'step-failed' || role === 'compensation-failed';
          this.remember(sagaId, failed ? 'failed' : 'dead');
          found += 1;
          continue;
        }
        const note = dead ? undefined : readReplayNote(record.headers);
        // A replay the tool let through: the saga runs again here unless it failed meanwhile.
        if (note && note.group === groupId && this.states.get(sagaId) === 'dead') this.states.delete(sagaId);
      }
    }
    if (found > 0) this.deps.logger.info({ partition, deadLetters: found }, 'restored the sagas given up on from the dead-letter topics');
  }
}
