import type { InboundMessage, OutboundRecord } from '../transport/transport.js';

/** What a finished message left behind: its outputs and its parked-saga changes. */
export interface FinishedMessage {
  readonly outputs: readonly OutboundRecord[];
  readonly parking: ReadonlyMap<string, number>;
}

const keyOf = (m: InboundMessage): string => `${m.topic}\u0000${m.partition}\u0000${m.offset}`;

/**
 * Messages finished beyond what their batch could commit (a message of another saga before them
 * had to wait). Their outcome is kept until they are committed, so delivering them again does not
 * run their handlers again. Forgotten when the assignment changes: another member may have
 * handled them since.
 */
export class FinishedAhead {
  private readonly byRecord = new Map<string, FinishedMessage>();

  get(message: InboundMessage): FinishedMessage | undefined {
    return this.byRecord.size === 0 ? undefined : this.byRecord.get(keyOf(message));
  }

  set(message: InboundMessage, finished: FinishedMessage): void {
    this.byRecord.set(keyOf(message), finished);
  }

  /** The messages were committed: nothing to keep for them any more. */
  committed(messages: readonly InboundMessage[]): void {
    if (this.byRecord.size === 0) return;
    for (const m of messages) this.byRecord.delete(keyOf(m));
  }

  forget(): void {
    this.byRecord.clear();
  }

  get size(): number {
    return this.byRecord.size;
  }
}
