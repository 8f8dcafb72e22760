import { Option, type Command } from 'commander';
import pg from 'pg';
import { pino } from 'pino';
import {
  brokersOption,
  createCli,
  integerAtLeast,
  kafkaConnectionOptions,
  packageVersion,
  requireKafkaConnection,
  runCli,
  type CliIo,
} from '@troupe/schema-registry';
import { OutboxRelay } from '../postgres/outbox-relay.js';
import { LATEST_VERSION } from '../postgres/migrations.js';
import { PostgresOutbox } from '../postgres/postgres-outbox.js';
import { KafkaTransport } from '../transport/kafka/kafka-transport.js';

interface DbOptions {
  databaseUrl?: string;
  schema: string;
}

const dbOptions = (command: Command): Command =>
  command
    .addOption(
      new Option('--database-url <url>', 'PostgreSQL connection string (default: the PG* environment variables)').env('DATABASE_URL'),
    )
    .option('--schema <name>', 'PostgreSQL schema of the outbox tables', 'troupe');

/** Opens the outbox (migrating when `migrate`), runs `fn`, closes what it opened. */
async function withOutbox<T>(o: DbOptions, migrate: boolean, fn: (outbox: PostgresOutbox) => Promise<T>): Promise<T> {
  const pool = new pg.Pool(o.databaseUrl !== undefined && o.databaseUrl !== '' ? { connectionString: o.databaseUrl, max: 4 } : { max: 4 });
  pool.on('error', () => undefined);
  try {
    const outbox = await PostgresOutbox.create({ pool, schema: o.schema, migrate });
    return await fn(outbox);
  } finally {
    await pool.end();
  }
}

/** Resolves on SIGTERM or SIGINT (the standalone relay runs until then). */
const untilSignal = (io: CliIo): Promise<void> =>
  new Promise((resolve) => {
    const stop = (signal: string): void => {
      io.err(`troupe-outbox: ${signal}, closing`);
      resolve();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });

/** The `troupe-outbox` command tree, writing to `io`. */
export function buildOutboxCli(io: CliIo): Command {
  const program = createCli({
    name: 'troupe-outbox',
    description: 'Migrate, inspect and relay the PostgreSQL outbox of Troupe services (docs/outbox.md).',
    version: packageVersion(import.meta.url),
    io,
  });

  dbOptions(program.command('migrate'))
    .description('create or upgrade the outbox tables (versioned; safe to run again and from several processes)')
    .action(async (o: DbOptions) => {
      await withOutbox(o, true, (outbox) => {
        const report = outbox.migrated;
        const applied = report && report.applied.length > 0 ? `applied ${report.applied.join(', ')}` : 'up to date';
        io.out(`schema ${o.schema} is at version ${report?.version ?? LATEST_VERSION} (${applied})`);
        return Promise.resolve();
      });
    });

  dbOptions(program.command('status'))
    .description('print the schema version, the rows waiting for the relay, the age of the oldest and the rows the broker refused')
    .option('--json', 'print JSON')
    .action(async (o: DbOptions & { json?: boolean }) => {
      await withOutbox(o, false, async (outbox) => {
        const backlog = await outbox.backlog();
        const refused = await outbox.refused();
        const status = {
          schema: o.schema,
          version: LATEST_VERSION,
          ...backlog,
          refused: refused.count,
          latestRefusal: refused.latest ?? null,
        };
        const waiting = `schema ${o.schema} v${LATEST_VERSION}: ${backlog.pending} waiting, oldest ${Math.round(backlog.oldestAgeMs)} ms`;
        const failed = refused.count > 0 ? `; ${refused.count} refused by the broker for good (latest: ${refused.latest ?? '?'})` : '';
        io.out(o.json === true ? JSON.stringify(status) : `${waiting}${failed}`);
      });
    });

  const relay = dbOptions(program.command('relay'))
    .description('publish the outbox to Kafka until SIGTERM (several relays may run on one outbox)')
    .addOption(brokersOption())
    .option('--batch-size <n>', 'rows per relay transaction', integerAtLeast(1), 500)
    .option('--poll-interval-ms <ms>', 'look for rows this often besides LISTEN/NOTIFY', integerAtLeast(1), 1000)
    .option('--migrate', 'apply missing migrations first')
    .option('--once', 'publish what waits now, then exit')
    .option('--log-level <level>', 'pino log level', 'info');
  for (const option of kafkaConnectionOptions()) relay.addOption(option);
  relay.action(
    async (
      o: DbOptions & { batchSize: number; pollIntervalMs: number; migrate?: boolean; once?: boolean; logLevel: string },
      command: Command,
    ) => {
      const logger = pino({ name: 'troupe-outbox', level: o.logLevel }, pino.destination(2));
      const transport = await KafkaTransport.create({ ...requireKafkaConnection(command), logger });
      try {
        await withOutbox(o, o.migrate === true, async (outbox) => {
          const r = await OutboxRelay.create({ outbox, transport, logger, batchSize: o.batchSize, pollIntervalMs: o.pollIntervalMs });
          try {
            if (o.once === true) {
              // Shards another relay holds are skipped: wait for it rather than spin.
              while ((await outbox.backlog()).pending > 0) {
                if ((await r.publishBatch()) === 0) await new Promise((resolve) => setTimeout(resolve, 100));
              }
            } else {
              io.out('RELAY_STARTED');
              await untilSignal(io);
            }
          } finally {
            await r.close();
          }
          io.out(`published ${r.published} event(s)`);
        });
      } finally {
        await transport.close();
      }
    },
  );
  return program;
}

/** Runs `troupe-outbox` with `argv` (without node and script) and returns the exit code. */
export function runOutboxCli(argv: readonly string[], io: CliIo): Promise<number> {
  return runCli(buildOutboxCli(io), argv);
}
