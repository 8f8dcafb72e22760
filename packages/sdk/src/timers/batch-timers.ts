import type { InboundMessage, OutboundRecord } from '../transport/transport.js';
import type { MessageOutcome } from '../participant/outcomes.js';
import type { SagaClock, TimerOverlay } from './saga-clock.js';
import { readTimer } from './timer-record.js';

/**
 * The saga clock's view of one batch: each saga's not yet committed timer records (its messages
 * run one after the other, so a later one sees what an earlier one wrote), and the one call the
 * batch loop makes per message.
 */
export class BatchTimers {
  private readonly bySaga = new Map<string, OutboundRecord[]>();

  constructor(
    private readonly clock: SagaClock,
    private readonly timerTopic: string,
  ) {}

  /** Observes the message, then runs `handle` unless the clock says to skip it; adds the clock's records. */
  async run(message: InboundMessage, handle: () => Promise<MessageOutcome>): Promise<MessageOutcome> {
    const seen = await this.clock.observe(message, this.overlay(message));
    const outcome = seen.skip ? ({ kind: 'done', outputs: [] } as const) : await handle();
    if (outcome.kind !== 'done') return outcome;
    const outputs = seen.outputs.length > 0 ? [...seen.outputs, ...outcome.outputs] : outcome.outputs;
    this.note(message, outputs);
    return { kind: 'done', outputs };
  }

  /** Outputs of a message finished earlier (reused), so later messages of its saga see its timers. */
  note(message: InboundMessage, outputs: readonly OutboundRecord[]): void {
    const saga = message.key?.toString() ?? '';
    const list = this.bySaga.get(saga) ?? [];
    for (const r of outputs) if (r.topic === this.timerTopic) list.push(r);
    this.bySaga.set(saga, list);
  }

  private overlay(message: InboundMessage): TimerOverlay {
    const list = this.bySaga.get(message.key?.toString() ?? '') ?? [];
    return (key) => {
      for (let i = list.length - 1; i >= 0; i--) {
        const r = list[i];
        if (r && r.key?.toString() === key) return readTimer(r) ?? null;
      }
      return undefined;
    };
  }
}
