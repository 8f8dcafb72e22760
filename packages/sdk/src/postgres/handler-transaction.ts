import type { EventEnvelope } from '@troupe/core';
import type { EventContext } from '../participant/event-context.js';
import { oversizedOutput } from '../participant/output-refusals.js';
import type { Route } from '../participant/routes.js';
import type { InboxKey, PostgresOutbox } from './postgres-outbox.js';

/** The inbox key of one handler's handling of one event. */
export function inboxKeyOf(consumerGroup: string, route: Route, env: EventEnvelope): InboxKey {
  return { consumerGroup, eventId: env.id, handler: route.label, sagaId: env.sagaId };
}

/**
 * Runs a handler in one database transaction: the inbox row first (a duplicate ends here, and a
 * concurrent twin waits for it), then the handler with `ctx.tx`, then its outputs into the outbox.
 * Nothing of it is visible unless all of it commits. An output larger than its topic's
 * `max.message.bytes` (where `limits` knows it) is refused here, as on the Kafka path, with
 * OUTPUT_REFUSED: the transaction rolls back (the handler's SQL too) and the step gives up,
 * instead of the row blocking the relay later.
 */
export async function inHandlerTransaction(
  outbox: PostgresOutbox,
  at: { readonly key: InboxKey; readonly limits: ReadonlyMap<string, number> },
  ctx: EventContext,
  invoke: () => Promise<void>,
): Promise<'handled' | 'duplicate'> {
  const { key, limits } = at;
  const result = await outbox.handle(key, async (tx) => {
    ctx.useTransaction(tx);
    try {
      await invoke();
    } finally {
      ctx.useTransaction(undefined);
    }
    const tooLarge = oversizedOutput(ctx.outputs, limits);
    if (tooLarge) throw tooLarge;
    return ctx.outputs;
  });
  if (result === 'duplicate') ctx.logger.debug({ handler: key.handler }, 'event already handled (inbox row); skipped');
  return result;
}
