// A Troupe participant doing the step: at-least-once or exactly-once (a Kafka transaction per batch
// carrying the outputs and the consumed offsets). `sdk` is @troupe/sdk, or a baseline build of it
// (BENCH_SDK_BASELINE) so a change is measured against the code before it in the same run.
import { pino } from 'pino';
import type * as TroupeSdk from '@troupe/sdk';
import type { DeliveryMode, KafkaTransport } from '@troupe/sdk';
import { paymentFor, stepCodec, stepTypes, type StepConfig } from '../lib/step.js';

export type Sdk = typeof TroupeSdk;

export async function troupeParticipant(
  sdk: Sdk,
  transport: KafkaTransport,
  cfg: StepConfig & { readonly delivery: DeliveryMode; readonly outbox?: TroupeSdk.PostgresOutbox; readonly inbox?: boolean },
): Promise<() => Promise<void>> {
  const { In, Out } = stepTypes(cfg);
  const p = await sdk.Participant.create({
    name: 'payment-service',
    groupId: cfg.groupId,
    transport,
    codec: await stepCodec(cfg),
    delivery: cfg.delivery,
    // The baseline build may predate the option; only the no-inbox contenders pass it.
    ...(cfg.inbox === false ? { inbox: false } : {}),
    logger: pino({ level: 'silent' }),
    maxBatchSize: cfg.batch,
    maxBatchMs: 1000,
    concurrency: 4,
    topics: { partitions: cfg.partitions },
    ...(cfg.outbox !== undefined ? { outbox: cfg.outbox } : {}),
    handlers: [
      sdk.on(In, async ({ payload, ctx }) => {
        await ctx.emit(Out, paymentFor(payload));
      }),
    ],
  });
  return () => p.close();
}

/**
 * The same step PostgreSQL-transactionally (docs/outbox.md): each handler call is one database
 * transaction holding the inbox row and the emitted event (an outbox row); an in-process relay
 * publishes the outbox. Kafka delivery is at-least-once: the inbox, not a Kafka transaction,
 * keeps a redelivered event from being handled twice. The outbox lives in a schema of its own,
 * dropped when the contender stops.
 */
export async function troupePostgresParticipant(
  sdk: Sdk,
  transport: KafkaTransport,
  cfg: StepConfig,
  pgUrl: string,
): Promise<() => Promise<void>> {
  const schema = `bench_${cfg.groupId.replace(/[^a-z0-9]/gi, '_').toLowerCase()}`.slice(0, 60);
  const outbox = await sdk.PostgresOutbox.create({ connectionString: pgUrl, schema, poolSize: 8 });
  const stop = await troupeParticipant(sdk, transport, { ...cfg, delivery: 'at-least-once', outbox });
  return async () => {
    await stop();
    await outbox.pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
    await outbox.close();
  };
}
