import { Option, type Command } from 'commander';
import { pino } from 'pino';
import {
  CliExit,
  EXIT,
  brokersOption,
  createCli,
  integerAtLeast,
  kafkaConnectionOptions,
  packageVersion,
  requireKafkaConnection,
  runCli,
  type CliIo,
} from '@troupe/schema-registry';
import { DEAD_LETTER_REASONS, type DeadLetterReason } from '../dead-letter/dead-letter.js';
import { listDeadLetters, replayDeadLetters, type DeadLetterEntry, type DeadLetterFilter } from '../dead-letter/dead-letter-tool.js';
import { KafkaTransport } from '../transport/kafka/kafka-transport.js';

interface FilterOptions {
  reason?: DeadLetterReason;
  saga?: string;
  partition?: number;
  offset?: number;
  json?: boolean;
}

async function withTransport<T>(command: Command, fn: (t: KafkaTransport) => Promise<T>): Promise<T> {
  // kafkajs's own retries are noise for a one-shot tool: its final error is printed anyway.
  const verbose = command.optsWithGlobals<{ verbose?: boolean }>().verbose === true;
  const logger = pino({ level: verbose ? 'debug' : 'silent' }, pino.destination(2));
  const transport = await KafkaTransport.create({ ...requireKafkaConnection(command), logger });
  try {
    return await fn(transport);
  } finally {
    await transport.close();
  }
}

const filterOf = (opts: FilterOptions): DeadLetterFilter => ({
  ...(opts.reason !== undefined ? { reason: opts.reason } : {}),
  ...(opts.saga !== undefined ? { sagaId: opts.saga } : {}),
  ...(opts.partition !== undefined ? { partition: opts.partition } : {}),
  ...(opts.offset !== undefined ? { offset: String(opts.offset) } : {}),
});

const summary = (e: DeadLetterEntry): Record<string, unknown> => ({
  at: `${e.partition}/${e.offset}`,
  reason: e.info.reason,
  saga: e.sagaId,
  type: e.type,
  eventId: e.eventId,
  from: `${e.info.originalTopic}/${e.info.originalPartition}/${e.info.originalOffset}`,
  participant: e.info.participant,
  attempts: e.info.attempts,
  time: e.info.time,
  error: e.info.error,
});

function print(io: CliIo, entries: DeadLetterEntry[], json: boolean | undefined): void {
  if (json === true) {
    io.out(JSON.stringify(entries.map(summary), null, 2));
    return;
  }
  for (const e of entries) {
    const s = summary(e);
    io.out(
      `${String(s['at']).padEnd(10)} ${String(s['reason']).padEnd(20)} saga=${String(s['saga'])} type=${String(s['type'])} from=${String(s['from'])} by=${String(s['participant'])}`,
    );
    io.out(`    ${String(s['error']).slice(0, 200)}`);
  }
  io.out(`${entries.length} dead letter(s)`);
}

const reasonOption = (): Option => new Option('--reason <reason>', 'only dead letters with this reason').choices(DEAD_LETTER_REASONS);

/** The `troupe-dlq` command tree, writing to `io`. */
export function buildDlqCli(io: CliIo): Command {
  const program = createCli({
    name: 'troupe-dlq',
    description: 'List, inspect and replay dead letters of Troupe participants (topics named <topic>.dlq by default).',
    version: packageVersion(import.meta.url),
    io,
  }).addOption(brokersOption());
  for (const option of kafkaConnectionOptions()) program.addOption(option);

  program
    .command('list')
    .description('list the dead letters of a dead-letter topic, with reason, saga, origin and error')
    .argument('<dlq-topic>', 'dead-letter topic, e.g. orders.dlq')
    .addOption(reasonOption())
    .option('--saga <id>', 'only this saga id')
    .option('--json', 'print JSON')
    .action(async (topic: string, opts: FilterOptions, command: Command) => {
      print(io, await withTransport(command, (t) => listDeadLetters(t, topic, filterOf(opts))), opts.json);
    });

  program
    .command('inspect')
    .description('print one dead letter in full: headers, key and the payload bytes (base64)')
    .argument('<dlq-topic>', 'dead-letter topic, e.g. orders.dlq')
    .argument('<partition>', 'partition of the dead letter', integerAtLeast(0))
    .argument('<offset>', 'offset of the dead letter', integerAtLeast(0))
    .action(async function (this: Command, topic: string, partition: number, offset: number) {
      const [entry] = await withTransport(this, (t) => listDeadLetters(t, topic, { partition, offset: String(offset) }));
      if (!entry) {
        io.err(`troupe-dlq: no dead letter at ${topic} ${partition}/${offset}; \`troupe-dlq list ${topic}\` shows where they are`);
        throw new CliExit(EXIT.failed);
      }
      const headers = Object.fromEntries(
        Object.entries(entry.message.headers).map(([k, v]) => [k, Array.isArray(v) ? v.map(String) : String(v)]),
      );
      io.out(
        JSON.stringify(
          { ...summary(entry), key: entry.message.key?.toString(), headers, valueBase64: entry.message.value?.toString('base64') },
          null,
          2,
        ),
      );
    });

  program
    .command('replay')
    .description('append the selected dead letters to their original topics again (same ce_id)')
    .argument('<dlq-topic>', 'dead-letter topic, e.g. orders.dlq')
    .addOption(reasonOption())
    .option('--saga <id>', 'only this saga id')
    .option('--partition <n>', 'only this partition of the DLQ', integerAtLeast(0))
    .option('--offset <n>', 'only this offset (with --partition)', integerAtLeast(0))
    .option('--dry-run', 'show what would be replayed')
    .option('--json', 'print JSON')
    .action(async (topic: string, opts: FilterOptions & { dryRun?: boolean }, command: Command) => {
      const entries = await withTransport(command, (t) => replayDeadLetters(t, topic, { ...filterOf(opts), dryRun: opts.dryRun === true }));
      print(io, entries, opts.json);
      io.out(opts.dryRun === true ? 'dry run: nothing was sent' : `replayed ${entries.length} event(s) to their original topics`);
    });

  return program;
}

/** Runs `troupe-dlq` with `argv` (without node and script) and returns the exit code. */
export function runDlqCli(argv: readonly string[], io: CliIo): Promise<number> {
  return runCli(buildDlqCli(io), argv);
}
