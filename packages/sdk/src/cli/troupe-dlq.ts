#!/usr/bin/env node
import { Command, InvalidArgumentError } from 'commander';
import { pino } from 'pino';
import { listDeadLetters, replayDeadLetters, type DeadLetterEntry, type DeadLetterFilter } from '../dead-letter/dead-letter-tool.js';
import { describeError } from '../errors.js';
import { KafkaTransport } from '../transport/kafka/kafka-transport.js';

interface CommonOptions {
  brokers?: string;
  reason?: string;
  saga?: string;
  json?: boolean;
}

const integer = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected an integer >= 0');
  return n;
};

async function withTransport<T>(opts: CommonOptions, fn: (t: KafkaTransport) => Promise<T>): Promise<T> {
  const brokers = (opts.brokers ?? process.env['KAFKA_BROKERS'] ?? '').split(',').filter((b) => b !== '');
  if (brokers.length === 0) throw new Error('no brokers: pass --brokers host:port or set KAFKA_BROKERS');
  const transport = await KafkaTransport.create({ brokers, logger: pino({ level: 'error' }) });
  try {
    return await fn(transport);
  } finally {
    await transport.close();
  }
}

const filterOf = (opts: CommonOptions & { partition?: number; offset?: number }): DeadLetterFilter => ({
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

function print(entries: DeadLetterEntry[], json: boolean | undefined): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(entries.map(summary), null, 2)}\n`);
    return;
  }
  for (const e of entries) {
    const s = summary(e);
    process.stdout.write(`${String(s['at']).padEnd(10)} ${String(s['reason']).padEnd(20)} saga=${String(s['saga'])} type=${String(s['type'])} from=${String(s['from'])} by=${String(s['participant'])}\n    ${String(s['error']).slice(0, 200)}\n`);
  }
  process.stdout.write(`${entries.length} dead letter(s)\n`);
}

const program = new Command('troupe-dlq')
  .description('List, inspect and replay dead letters of Troupe participants (topics named <topic>.dlq by default)')
  .option('--brokers <list>', 'Kafka bootstrap brokers, host:port[,host:port] (default: $KAFKA_BROKERS)');

program
  .command('list')
  .argument('<dlq-topic>', 'dead-letter topic, e.g. orders.dlq')
  .option('--reason <reason>', 'only this reason (MALFORMED_ENVELOPE, UNDECODABLE_PAYLOAD, UNKNOWN_SCHEMA_ID, HANDLER_FAILED, SAGA_DEAD_LETTERED)')
  .option('--saga <id>', 'only this saga id')
  .option('--json', 'print JSON')
  .action(async (topic: string, opts: CommonOptions) => {
    const all = { ...program.opts<CommonOptions>(), ...opts };
    print(await withTransport(all, (t) => listDeadLetters(t, topic, filterOf(all))), all.json);
  });

program
  .command('inspect')
  .argument('<dlq-topic>')
  .argument('<partition>', 'partition of the dead letter', integer)
  .argument('<offset>', 'offset of the dead letter', integer)
  .action(async (topic: string, partition: number, offset: number) => {
    const all = program.opts<CommonOptions>();
    const [entry] = await withTransport(all, (t) => listDeadLetters(t, topic, { partition, offset: String(offset) }));
    if (!entry) throw new Error(`no dead letter at ${topic} ${partition}/${offset}`);
    const headers = Object.fromEntries(Object.entries(entry.message.headers).map(([k, v]) => [k, Array.isArray(v) ? v.map(String) : String(v)]));
    process.stdout.write(
      `${JSON.stringify({ ...summary(entry), key: entry.message.key?.toString(), headers, valueBase64: entry.message.value?.toString('base64') }, null, 2)}\n`,
    );
  });

program
  .command('replay')
  .argument('<dlq-topic>')
  .option('--reason <reason>', 'only dead letters with this reason')
  .option('--saga <id>', 'only this saga id')
  .option('--partition <n>', 'only this partition of the DLQ', integer)
  .option('--offset <n>', 'only this offset (with --partition)', integer)
  .option('--dry-run', 'show what would be replayed')
  .option('--json', 'print JSON')
  .action(async (topic: string, opts: CommonOptions & { partition?: number; offset?: number; dryRun?: boolean }) => {
    const all = { ...program.opts<CommonOptions>(), ...opts };
    const entries = await withTransport(all, (t) => replayDeadLetters(t, topic, { ...filterOf(all), dryRun: all.dryRun === true }));
    print(entries, all.json);
    process.stdout.write(all.dryRun ? 'dry run: nothing was sent\n' : `replayed ${entries.length} event(s) to their original topics\n`);
  });

program.parseAsync().catch((err: unknown) => {
  process.stderr.write(`troupe-dlq: ${describeError(err)}\n`);
  process.exit(1);
});
