import { HEADER, headerString } from '@troupe/core';
import type { InboundMessage } from '../transport/transport.js';

/** The saga a record belongs to: its saga id header, else its key; records with neither share one chain. */
export function sagaOf(message: InboundMessage): string {
  return headerString(message.headers, HEADER.sagaId) ?? message.key?.toString() ?? '';
}

/**
 * Runs `handle` over `messages` one saga at a time per saga — a saga's messages strictly in their
 * order, one after the other — and up to `concurrency` sagas at the same time. A saga's chain ends
 * early when `handle` returns false (its later messages are not started). Sagas start in the order
 * of their first message, so the first message of the batch always starts first.
 */
export async function runBySaga(
  messages: readonly InboundMessage[],
  concurrency: number,
  handle: (message: InboundMessage, index: number) => Promise<boolean>,
): Promise<void> {
  const chains = new Map<string, number[]>();
  messages.forEach((m, i) => {
    const saga = sagaOf(m);
    const chain = chains.get(saga);
    if (chain) chain.push(i);
    else chains.set(saga, [i]);
  });
  const pending = [...chains.values()];
  let next = 0;
  const runner = async (): Promise<void> => {
    for (let chain = pending[next++]; chain; chain = pending[next++]) {
      for (const i of chain) {
        const m = messages[i];
        if (!m || !(await handle(m, i))) break;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, pending.length)) }, runner));
}
