import type { EventEnvelope } from '@troupe/core';
import type { EventContext } from '../participant/event-context.js';
import type { Route } from '../participant/routes.js';
import type { InboxKey, PostgresOutbox } from './postgres-outbox.js';

/** The inbox key of one handler's handling of one event. */
export function inboxKeyOf(consumerGroup: string, route: Route, env: EventEnvelope): InboxKey {
  return { consumerGroup, eventId: env.id, handler: route.label, sagaId: env.sagaId };
}

/**
 * Runs a handler in one database transaction: the inbox row first (a duplicate ends here, and a
 * concurrent twin waits for it), then the handler with `ctx.tx`, then its outputs into the outbox.
 * Nothing of it is visible unless all of it commits.
 */
export async function inHandlerTransaction(
  outbox: PostgresOutbox,
  key: InboxKey,
  ctx: EventContext,
  invoke: () => Promise<void>,
): Promise<'handled' | 'duplicate'> {
  const result = await outbox.handle(key, async (tx) => {
    ctx.useTransaction(tx);
    try {
      await invoke();
    } finally {
      ctx.useTransaction(undefined);
    }
    return ctx.outputs;
  });
  if (result === 'duplicate') ctx.logger.debug({ handler: key.handler }, 'event already handled (inbox row); skipped');
  return result;
}
