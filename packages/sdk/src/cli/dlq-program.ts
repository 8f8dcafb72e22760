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
import {
  listDeadLetters,
  replayDeadLetters,
  type DeadLetterEntry,
  type DeadLetterFilter,
  type ReplayResult,
} from '../dead-letter/dead-letter-tool.js';
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
  group: e.info.group,
  ...(e.info.failure !== undefined ? { failureEmitted: e.info.failure } : {}),
  replays: e.replays,
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
    for (const r of e.replays) io.out(`    replayed ${r.at} by ${r.by} to group ${r.group}`);
  }
  io.out(`${entries.length} dead letter(s)`);
}

interface ReplayCliOptions extends FilterOptions {
  group?: string;
  sagaTopics?: string;
  again?: boolean;
  by?: string;
  dryRun?: boolean;
}

function printReplay(io: CliIo, result: ReplayResult, opts: ReplayCliOptions): void {
  if (opts.json === true) {
    io.out(
      JSON.stringify(
        {
          replayed: result.replayed.map((e) => ({ ...summary(e), to: e.info.group })),
          refused: result.refused.map((r) => ({ ...summary(r.entry), why: r.reason })),
          skipped: result.skipped.map((r) => ({ ...summary(r.entry), why: r.reason })),
          dryRun: opts.dryRun === true,
        },
        null,
        2,
      ),
    );
    return;
  }
  for (const e of result.replayed)
    io.out(`replay  ${e.partition}/${e.offset} saga=${String(e.sagaId)} type=${String(e.type)} to group ${e.info.group}`);
  for (const r of result.refused) io.out(`REFUSED ${r.entry.partition}/${r.entry.offset}: ${r.reason}`);
  for (const r of result.skipped) io.out(`skipped ${r.entry.partition}/${r.entry.offset}: ${r.reason}`);
  const n = result.replayed.length;
  io.out(
    opts.dryRun === true
      ? `dry run: ${n} would be replayed, ${result.refused.length} refused, ${result.skipped.length} skipped; nothing was sent`
      : `replayed ${n} event(s), ${result.refused.length} refused, ${result.skipped.length} skipped`,
  );
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
    .description(
      'send the selected dead letters back to their original topics, each addressed to the consumer group that gave up on it ' +
        '(same ce_id), and record the replay in the dead-letter topic; a saga that already failed is refused',
    )
    .argument('<dlq-topic>', 'dead-letter topic, e.g. orders.dlq')
    .addOption(reasonOption())
    .option('--saga <id>', 'only this saga id')
    .option('--group <id>', 'only dead letters of this consumer group')
    .option('--partition <n>', 'only this partition of the DLQ', integerAtLeast(0))
    .option('--offset <n>', 'only this offset (with --partition)', integerAtLeast(0))
    .option('--saga-topics <topics>', "more of the saga's topics to look for its failure in, comma-separated")
    .option('--again', 'replay dead letters that were replayed before too')
    .option('--by <name>', 'who replays, for the replay record (default: $USER@$HOSTNAME)')
    .option('--dry-run', 'show what would be replayed')
    .option('--json', 'print JSON')
    .action(async (topic: string, opts: ReplayCliOptions, command: Command) => {
      const result = await withTransport(command, (t) =>
        replayDeadLetters(t, topic, {
          ...filterOf(opts),
          ...(opts.group !== undefined ? { group: opts.group } : {}),
          ...(opts.sagaTopics !== undefined ? { sagaTopics: opts.sagaTopics.split(',').filter((x) => x !== '') } : {}),
          ...(opts.by !== undefined ? { by: opts.by } : {}),
          again: opts.again === true,
          dryRun: opts.dryRun === true,
        }),
      );
      printReplay(io, result, opts);
      // Nothing of what was asked could be replayed: say so in the exit code too.
      if (result.replayed.length === 0 && result.refused.length > 0) throw new CliExit(EXIT.failed);
    });

  return program;
}

/** Runs `troupe-dlq` with `argv` (without node and script) and returns the exit code. */
export function runDlqCli(argv: readonly string[], io: CliIo): Promise<number> {
  return runCli(buildDlqCli(io), argv);
}
