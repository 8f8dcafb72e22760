// A Troupe participant doing the step: at-least-once or exactly-once (a Kafka transaction per batch
// carrying the outputs and the consumed offsets).
import { pino } from 'pino';
import { Participant, on, type DeliveryMode, type KafkaTransport } from '@troupe/sdk';
import { paymentFor, stepCodec, stepTypes, type StepConfig } from '../lib/step.js';

export async function troupeParticipant(transport: KafkaTransport, cfg: StepConfig & { readonly delivery: DeliveryMode }): Promise<() => Promise<void>> {
  const { In, Out } = stepTypes(cfg);
  const p = await Participant.create({
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
      on(In, async ({ payload, ctx }) => {
        await ctx.emit(Out, paymentFor(payload));
      }),
    ],
  });
  return () => p.close();
}
