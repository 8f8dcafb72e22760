import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { pino } from 'pino';
import { parseDuration } from '@troupe/core';
import {
  CliExit,
  EXIT,
  brokersOption,
  createCli,
  kafkaConnectionOptions,
  packageVersion,
  requireKafkaConnection,
  runCli,
  type CliIo,
} from '@troupe/schema-registry';
import { SdkError } from '../errors.js';
import { requestAbort } from '../timers/control.js';
import { KafkaTransport } from '../transport/kafka/kafka-transport.js';

interface AbortOptions {
  saga: string;
  reason: string;
  by?: string;
  timeout: number;
  json?: boolean;
}

const duration = (value: string): number => {
  const ms = parseDuration(value);
  if (ms === undefined) throw new InvalidArgumentError(`expected a duration such as 30s or 2m, got '${value}'`);
  return ms;
};

/** The `troupe-saga` command tree, writing to `io`. */
export function buildSagaCli(io: CliIo): Command {
  const program = createCli({
    name: 'troupe-saga',
    description: 'Operate on running sagas through their initiator (the tracker stays read-only): abort one, with a reason.',
    version: packageVersion(import.meta.url),
    io,
  }).addOption(brokersOption());
  for (const option of kafkaConnectionOptions()) program.addOption(option);

  program
    .command('abort')
    .description(
      "ask a saga's initiator to abort it: it emits the contract's aborted event with the reason and the earlier steps compensate; exit 1 when refused (the saga has ended) or unanswered",
    )
    .argument('<saga-id>', 'the saga to abort (its key on the topics)')
    .requiredOption('--saga <type>', 'saga type, as in the contract, e.g. order-fulfillment')
    .requiredOption('--reason <text>', 'why, shown by the tracker and carried by the aborted event')
    .option('--by <name>', 'who asks, shown by the tracker', process.env['USER'] ?? 'operator')
    .option('--timeout <duration>', 'how long to wait for the initiator to answer', duration, 60_000)
    .option('--json', 'print the answer as JSON')
    .action(async (sagaId: string, opts: AbortOptions, command: Command) => {
      const verbose = command.optsWithGlobals<{ verbose?: boolean }>().verbose === true;
      const logger = pino({ level: verbose ? 'debug' : 'silent' }, pino.destination(2));
      const transport = await KafkaTransport.create({ ...requireKafkaConnection(command), logger });
      try {
        const reply = await requestAbort({
          transport,
          sagaType: opts.saga,
          sagaId,
          reason: opts.reason,
          ...(opts.by !== undefined ? { by: opts.by } : {}),
          timeoutMs: opts.timeout,
        });
        if (opts.json === true) io.out(JSON.stringify({ sagaId, ...reply }));
        else if (reply.status === 'accepted') io.out(reply.message);
        if (reply.status === 'refused') {
          if (opts.json !== true) io.err(`troupe-saga: refused: ${reply.message}`);
          throw new CliExit(EXIT.failed);
        }
      } catch (err) {
        if (err instanceof SdkError && (err.code === 'TIMEOUT' || err.code === 'CONFIG_INVALID')) {
          io.err(`troupe-saga: ${err.message}`);
          throw new CliExit(EXIT.failed);
        }
        throw err;
      } finally {
        await transport.close();
      }
    });

  return program;
}

/** Runs `troupe-saga` with `argv` (without node and script) and returns the exit code. */
export function runSagaCli(argv: readonly string[], io: CliIo): Promise<number> {
  return runCli(buildSagaCli(io), argv);
}
