// One contender in its own Node process, so that no contender inherits another's JIT state, heap or
// sockets, and so that `--cpu-prof` profiles exactly one of them. Started by bench/run.ts with the
// job as JSON in BENCH_JOB:
//   step contenders run until SIGTERM (the harness times them from outside, see lib/step.ts);
//   tracker contenders print {"rate": events/s} as their last stdout line and exit.
import { Kafka, logLevel } from 'kafkajs';
import { pino } from 'pino';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { StepConfig } from '../lib/step.js';
import { nestMicroservice } from './nest.js';
import { rawAtLeastOnce, rawTransactional } from './raw.js';
import { memoryStore, postgresStore, rawConsume, trackerConsume } from './tracker.js';
import { troupeParticipant, troupePostgresParticipant, type Sdk } from './troupe.js';

export type WorkerJob =
  | ({ readonly kind: 'step' } & StepConfig)
  | {
      readonly kind: 'tracker';
      readonly contender: string;
      readonly brokers: readonly string[];
      readonly topics: readonly string[];
      readonly total: number;
      readonly pgUrl?: string;
    };

async function startStep(job: StepConfig): Promise<() => Promise<void>> {
  const kafka = (): Kafka => new Kafka({ clientId: job.contender, brokers: [...job.brokers], logLevel: logLevel.NOTHING });
  switch (job.contender) {
    case 'raw-alo':
      return rawAtLeastOnce(kafka(), job);
    case 'raw-tx':
      return rawTransactional(kafka(), job);
    case 'raw-tx-100ms':
      return rawTransactional(kafka(), { ...job, retryMs: 100 });
    case 'nest':
      return nestMicroservice(job);
    case 'troupe-alo':
    case 'troupe-eos':
    case 'troupe-alo-noinbox':
    case 'troupe-eos-noinbox':
    case 'troupe-alo-baseline':
    case 'troupe-eos-baseline': {
      const baseline = process.env['BENCH_SDK_BASELINE'];
      if (job.contender.endsWith('-baseline') && baseline === undefined)
        throw new Error(`${job.contender} needs BENCH_SDK_BASELINE (a built packages/sdk/dist)`);
      const sdk = (
        job.contender.endsWith('-baseline')
          ? await import(pathToFileURL(join(baseline ?? '', 'index.js')).href)
          : await import('@troupe/sdk')
      ) as Sdk;
      const transport = await sdk.KafkaTransport.create({
        brokers: [...job.brokers],
        clientId: job.contender,
        logger: pino({ level: 'silent' }),
      });
      const stop = await troupeParticipant(sdk, transport, {
        ...job,
        delivery: job.contender.startsWith('troupe-eos') ? 'exactly-once' : 'at-least-once',
        inbox: !job.contender.endsWith('-noinbox'),
      });
      return async () => {
        await stop();
        await transport.close();
      };
    }
    case 'troupe-pg': {
      const sdk: Sdk = await import('@troupe/sdk');
      const transport = await sdk.KafkaTransport.create({
        brokers: [...job.brokers],
        clientId: job.contender,
        logger: pino({ level: 'silent' }),
      });
      const stop = await troupePostgresParticipant(
        sdk,
        transport,
        job,
        process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test',
      );
      return async () => {
        await stop();
        await transport.close();
      };
    }
    default:
      throw new Error(`unknown step contender '${job.contender}'`);
  }
}

async function trackerRate(job: Extract<WorkerJob, { kind: 'tracker' }>): Promise<number> {
  switch (job.contender) {
    case 'tracker-raw':
      return rawConsume(job.brokers, job.topics, job.total);
    case 'tracker-memory':
      return trackerConsume(job.brokers, await memoryStore(), job);
    case 'tracker-postgres': {
      if (job.pgUrl === undefined) throw new Error('tracker-postgres needs pgUrl');
      const { store, drop } = await postgresStore(job.pgUrl);
      try {
        return await trackerConsume(job.brokers, store, job);
      } finally {
        await drop();
      }
    }
    default:
      throw new Error(`unknown tracker contender '${job.contender}'`);
  }
}

const job = JSON.parse(process.env['BENCH_JOB'] ?? '{}') as WorkerJob;
if (job.kind === 'tracker') {
  const rate = await trackerRate(job);
  console.log(JSON.stringify({ rate }));
  process.exit(0);
} else {
  const stop = await startStep(job);
  process.on('SIGTERM', () => {
    // The harness has seen every offset committed; a slow close must not hold up the next round.
    const force = setTimeout(() => process.exit(0), 5_000);
    void stop().finally(() => {
      clearTimeout(force);
      process.exit(0);
    });
  });
  console.log('ready');
}
