#!/usr/bin/env node
// troupe-kafka: a real Apache Kafka broker in the background, without Docker.
//   start   prints progress on stderr and `KAFKA_BROKERS=host:port` as the last stdout line
//   stop    stops it and waits until the JVM is gone
//   status  exit 0 and KAFKA_BROKERS when running, exit 3 when not
import { Command } from 'commander';
import { positiveInteger, reportStatus, runCli, stderrLogger } from './cli-support.js';
import { backgroundStatus, startBackgroundBroker, stopBackgroundBroker } from '../kafka/background-broker.js';
import { defaultStateDir } from '../kafka/paths.js';
import { KAFKA_VERSION } from '../kafka/version.js';

const err = stderrLogger('troupe-kafka');

interface StateOptions {
  stateDir?: string;
}

const program = new Command()
  .name('troupe-kafka')
  .description(`Run a local Apache Kafka ${KAFKA_VERSION} broker (KRaft, single node) in the background, without Docker.`)
  .option('--state-dir <dir>', 'where the broker keeps data, log and pid file (default: $TROUPE_STATE_DIR/kafka or ./.troupe/kafka)');

const stateDirOf = (): string => (program.opts<StateOptions>().stateDir ?? defaultStateDir());

program
  .command('start')
  .description('start the broker (or report the running one); the last stdout line is KAFKA_BROKERS=host:port')
  .option('--port <port>', 'client port (default: a free one)', positiveInteger)
  .option('--timeout <ms>', 'give up when the broker is not ready in time', positiveInteger, 90_000)
  .action(async (opts: { port?: number; timeout: number }) => {
    const { state, started } = await startBackgroundBroker(stateDirOf(), {
      port: opts.port,
      startTimeoutMs: opts.timeout,
      onProgress: err,
    });
    err(started ? `started broker pid ${state.pid}; log: ${state.logFile}` : `already running (pid ${state.pid}, started ${state.startedAt})`);
    err('stop it with `npm run kafka:stop`');
    process.stdout.write(`KAFKA_BROKERS=${state.brokers.join(',')}\n`);
  });

program
  .command('stop')
  .description('stop the broker and wait until its JVM has exited')
  .action(async () => {
    const stopped = await stopBackgroundBroker(stateDirOf());
    err(stopped ? `stopped broker pid ${stopped.pid} (${stopped.brokers.join(',')})` : 'no broker was running');
  });

program
  .command('status')
  .description('exit 0 and print KAFKA_BROKERS when running; exit 3 when not')
  .action(async () => {
    const state = await backgroundStatus(stateDirOf());
    reportStatus(err, state, (s) => `KAFKA_BROKERS=${s.brokers.join(',')}`);
  });

await runCli(program, err);
