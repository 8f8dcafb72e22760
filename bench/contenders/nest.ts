// The same step as a NestJS microservice on Nest's Kafka transport: an @EventPattern handler that
// emits the result through a ClientKafka, the way a Nest team writes it. Nest's server consumes with
// kafkajs eachMessage and commits after each handled message (kafkajs autoCommit). The decorators
// are applied as functions because the bench runs under tsx (esbuild), which does not emit the
// design-type metadata Nest's constructor injection relies on; the client is therefore a module
// constant instead of an injected provider. Neither changes what runs per message.
import 'reflect-metadata';
import { Module, type INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ClientKafka, Ctx, EventPattern, Payload, Transport, type KafkaContext, type MicroserviceOptions } from '@nestjs/microservices';
import { Partitioners } from 'kafkajs';
import { lastValueFrom } from 'rxjs';
import { stepTransform, type StepConfig } from '../lib/step.js';

export async function nestMicroservice(cfg: StepConfig): Promise<() => Promise<void>> {
  const transform = await stepTransform(cfg);
  const client = new ClientKafka({
    client: { clientId: 'bench-nest-out', brokers: [...cfg.brokers] },
    producerOnlyMode: true,
    producer: { idempotent: true, createPartitioner: Partitioners.DefaultPartitioner },
  });
  await client.connect();

  class StepController {
    async charge(value: Buffer, ctx: KafkaContext): Promise<void> {
      const m = ctx.getMessage();
      await lastValueFrom(client.emit(cfg.outTopic, { key: m.key, value: await transform(value), headers: m.headers }));
    }
  }
  const handle = Object.getOwnPropertyDescriptor(StepController.prototype, 'charge');
  if (handle === undefined) throw new Error('no handler');
  EventPattern(cfg.inTopic)(StepController.prototype, 'charge', handle);
  Payload()(StepController.prototype, 'charge', 0);
  Ctx()(StepController.prototype, 'charge', 1);
  class StepModule {}
  Module({ controllers: [StepController] })(StepModule);

  const app: INestMicroservice = await NestFactory.createMicroservice<MicroserviceOptions>(StepModule, {
    transport: Transport.KAFKA,
    logger: ['error'],
    options: {
      client: { clientId: 'bench-nest', brokers: [...cfg.brokers] },
      consumer: { groupId: cfg.groupId },
      // Nest appends '-server' to the group id unless told otherwise.
      postfixId: '',
      subscribe: { fromBeginning: true },
    },
  });
  await app.listen();
  return async () => {
    await app.close();
    await client.close();
  };
}
