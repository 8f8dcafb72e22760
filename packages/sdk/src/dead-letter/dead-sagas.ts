import { HEADER, headerString, type KafkaHeaders } from '@troupe/core';
import type { Logger } from 'pino';
import type { OutboundRecord, Transport } from '../transport/transport.js';
import { readDeadLetter } from './dead-letter.js';
import { PartitionRestores } from '../participant/partition-restores.js';
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
  private readonly restores: PartitionRestores<readonly RestoredRecord[]>;

  constructor(
    private readonly deps: {
      readonly transport: Transport;
      readonly groupId: string;
      /** The dead-letter topics the participant writes (one per input topic). */
      readonly deadLetterTopics: readonly string[];
      readonly logger: Logger;
    },
  ) {
    this.restores = new PartitionRestores({
      what: `the dead-letter topics ${deps.deadLetterTopics.join(', ')}`,
      read: (partition) => this.read(partition),
      // Merged only when the read is still current: one from before a revoke and re-assign would
      // bring back sagas that a replay since cleared.
      apply: (partition, records) => this.merge(partition, records),
      logger: deps.logger,
      now: () => Date.now(),
    });
  }

  stateOf(sagaId: string): DeadSagaState | undefined {
    return this.states.get(sagaId);
  }

  /**
   * A batch's view: the states committed so far plus what the batch's finished records
   * dead-lettered. Those count for the batch's later records at once, for everyone else only once
   * committed ({@link DeadSagas.applyCommitted}): a commit that fails (a fenced zombie, a crash)
   * must not leave a saga marked dead whose dead letter and failure event were never written.
   */
  batch(): DeadSagaBatch {
    return new DeadSagaBatch(this);
  }

  /** A batch committed `outputs`: the sagas its dead letters gave up on are remembered. */
  applyCommitted(outputs: readonly OutboundRecord[]): void {
    for (const r of outputs) {
      const given = this.givenUpBy(r);
      if (given) this.remember(given.sagaId, given.state);
    }
  }

  /** @internal The saga an output of this participant gives up on, and how; undefined for anything else. */
  givenUpBy(record: { readonly key: string | Buffer | null; readonly headers: KafkaHeaders }): DeadSagaGivenUp | undefined {
    const dead = readDeadLetter(record.headers);
    if (!dead || dead.group !== this.deps.groupId) return undefined;
    const sagaId = headerString(record.headers, HEADER.sagaId) ?? record.key?.toString();
    if (sagaId === undefined) return undefined;
    let state: DeadSagaState | 'unchanged';
    if (dead.sagaState !== undefined) state = dead.sagaState;
    else {
      // Written before the dead letter said so: failed when the saga's failure went out with it,
      // or it was the trigger of a compensation here; dead otherwise.
      const role = headerString(record.headers, HEADER.sagaRole);
      state = dead.failure !== undefined || role === 'step-failed' || role === 'compensation-failed' ? 'failed' : 'dead';
    }
    return state === 'unchanged' ? undefined : { sagaId, state };
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
    if (this.states.get(sagaId) === 'failed') return refusedReplay(sagaId);
    this.states.delete(sagaId);
    return { handle: true };
  }

  /** Partitions moved: what was known may belong to another member now. */
  forget(): void {
    this.states.clear();
    this.restores.reassigned();
  }

  /** Reads the partition number's dead letters and replay notes back once per assignment; rejects while unreadable. */
  async restore(partition: number): Promise<void> {
    await this.restores.restore(partition);
  }

  /** This group's dead letters and replay notes of a partition number, in dead-letter-topic order. */
  private async read(partition: number): Promise<readonly RestoredRecord[]> {
    const { transport, groupId, deadLetterTopics } = this.deps;
    const existing = await transport.partitionCounts(deadLetterTopics);
    const out: RestoredRecord[] = [];
    for (const topic of deadLetterTopics) {
      if ((existing.get(topic) ?? 0) <= partition) continue;
      for (const record of await transport.readPartition(topic, partition, '0')) {
        const sagaId = headerString(record.headers, HEADER.sagaId) ?? record.key?.toString();
        if (sagaId === undefined) continue;
        const given = this.givenUpBy(record);
        if (given) out.push(given);
        // Anything else is a dead letter that changed nothing, a note, or another group's record.
        else if (readReplayNote(record.headers)?.group === groupId) out.push({ sagaId, replayed: true });
      }
    }
    return out;
  }

  private merge(partition: number, records: readonly RestoredRecord[]): void {
    let found = 0;
    for (const r of records) {
      if ('state' in r) {
        this.remember(r.sagaId, r.state);
        found += 1;
      } else if (this.states.get(r.sagaId) === 'dead') {
        // A replay the tool let through: the saga runs again here unless it failed meanwhile.
        this.states.delete(r.sagaId);
      }
    }
    if (found > 0) this.deps.logger.info({ partition, deadLetters: found }, 'restored the sagas given up on from the dead-letter topics');
  }
}

/** What the restore keeps of a dead-letter topic record: a saga given up on, or a replay note of this group. */
type RestoredRecord = DeadSagaGivenUp | { readonly sagaId: string; readonly replayed: true };

function refusedReplay(sagaId: string): ReplayVerdict {
  return {
    handle: false,
    reason: `saga ${sagaId} already failed and compensates; running a step of it again would act on an undone saga (start a new saga instead)`,
  };
}

/** A saga an output gives up on. */
export interface DeadSagaGivenUp {
  readonly sagaId: string;
  readonly state: DeadSagaState;
}

/** One batch's view of the dead sagas (see {@link DeadSagas.batch}). */
export class DeadSagaBatch {
  private readonly pending = new Map<string, DeadSagaState>();

  constructor(private readonly sagas: DeadSagas) {}

  stateOf(sagaId: string): DeadSagaState | undefined {
    const committed = this.sagas.stateOf(sagaId);
    return committed === 'failed' ? committed : (this.pending.get(sagaId) ?? committed);
  }

  /** A record of the batch finished with `outputs` (fresh, or reused from an earlier delivery). */
  note(outputs: readonly OutboundRecord[]): void {
    for (const r of outputs) {
      const given = this.sagas.givenUpBy(r);
      if (given && this.pending.get(given.sagaId) !== 'failed') this.pending.set(given.sagaId, given.state);
    }
  }

  /** A replay addressed to this group: refused for a failed saga, otherwise the saga runs again. */
  admitReplay(sagaId: string): ReplayVerdict {
    if (this.stateOf(sagaId) === 'failed') return refusedReplay(sagaId);
    this.pending.delete(sagaId);
    return this.sagas.admitReplay(sagaId);
  }
}
