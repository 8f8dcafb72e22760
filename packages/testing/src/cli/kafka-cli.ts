// troupe-kafka: a real Apache Kafka broker in the background, without Docker.
//   start   prints progress on stderr and `KAFKA_BROKERS=host:port` as the last stdout line
//   stop    stops it and waits until the JVM is gone
//   status  exit 0 and KAFKA_BROKERS when running, exit 1 when not
import type { Command } from 'commander';
import { createCli, integerAtLeast, packageVersion, type CliIo } from '@troupe/schema-registry';
import { progressLogger, reportStatus } from './cli-support.js';
import { backgroundStatus, startBackgroundBroker, stopBackgroundBroker } from '../kafka/background-broker.js';
import { defaultStateDir } from '../kafka/paths.js';
import { KAFKA_VERSION } from '../kafka/version.js';

/** The `troupe-kafka` command tree, writing to `io`. */
export function buildKafkaCli(io: CliIo): Command {
  const log = progressLogger('troupe-kafka', io);
  const program = createCli({
    name: 'troupe-kafka',
    description: `Run a local Apache Kafka ${KAFKA_VERSION} broker (KRaft, single node) in the background, without Docker.`,
    version: packageVersion(import.meta.url),
    io,
  }).option('--state-dir <dir>', 'where the broker keeps data, log and pid file (default: $TROUPE_STATE_DIR/kafka or ./.troupe/kafka)');

  const stateDirOf = (): string => program.opts<{ stateDir?: string }>().stateDir ?? defaultStateDir();

  program
    .command('start')
    .description('start the broker (or report the running one); the last stdout line is KAFKA_BROKERS=host:port')
    .option('--port <port>', 'client port (default: a free one)', integerAtLeast(1))
    .option('--timeout <ms>', 'give up when the broker is not ready in time', integerAtLeast(1), 90_000)
    .action(async (opts: { port?: number; timeout: number }) => {
      const { state, started } = await startBackgroundBroker(stateDirOf(), {
        port: opts.port,
        startTimeoutMs: opts.timeout,
        onProgress: log,
      });
      log(
        started
          ? `started broker pid ${state.pid}; log: ${state.logFile}`
          : `already running (pid ${state.pid}, started ${state.startedAt})`,
      );
      log('stop it with `npm run kafka:stop`');
      io.out(`KAFKA_BROKERS=${state.brokers.join(',')}`);
    });

  program
    .command('stop')
    .description('stop the broker and wait until its JVM has exited')
    .action(async () => {
      const stopped = await stopBackgroundBroker(stateDirOf());
      log(stopped ? `stopped broker pid ${stopped.pid} (${stopped.brokers.join(',')})` : 'no broker was running');
    });

  program
    .command('status')
    .description('exit 0 and print KAFKA_BROKERS when running; exit 1 when not')
    .action(async () => {
      reportStatus(io, log, await backgroundStatus(stateDirOf()), (s) => `KAFKA_BROKERS=${s.brokers.join(',')}`);
    });

  return program;
}
