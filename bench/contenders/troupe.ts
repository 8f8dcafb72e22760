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
  cfg: StepConfig & { readonly delivery: DeliveryMode },
): Promise<() => Promise<void>> {
  const { In, Out } = stepTypes(cfg);
  const p = await sdk.Participant.create({
    name: 'payment-service',
    groupId: cfg.groupId,
    transport,
    codec: await stepCodec(cfg),
    delivery: cfg.delivery,
    logger: pino({ level: 'silent' }),
    maxBatchSize: cfg.batch,
    maxBatchMs: 1000,
    concurrency: 4,
    topics: { partitions: cfg.partitions },
    handlers: [
      sdk.on(In, async ({ payload, ctx }) => {
        await ctx.emit(Out, paymentFor(payload));
      }),
    ],
  });
  return () => p.close();
}
