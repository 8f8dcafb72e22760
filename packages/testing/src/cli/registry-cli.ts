// troupe-registry: a real Confluent-compatible schema registry (Apicurio) in the background.
//   start   prints progress on stderr and `SCHEMA_REGISTRY_URL=<url>` as the last stdout line
//   stop    stops it and waits until the JVM is gone
//   status  exit 0 and SCHEMA_REGISTRY_URL when running, exit 1 when not
import { InvalidArgumentError, type Command } from 'commander';
import { createCli, integerAtLeast, packageVersion, type CliIo } from '@troupe/schema-registry';
import { progressLogger, reportStatus } from './cli-support.js';
import { APICURIO_VERSION } from '../registry/apicurio-version.js';
import {
  defaultRegistryStateDir,
  registryStatus,
  startBackgroundRegistry,
  stopBackgroundRegistry,
} from '../registry/background-registry.js';

function property(value: string, previous: Record<string, string>): Record<string, string> {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError('expected key=value, e.g. apicurio.storage.kind=kafkasql');
  return { ...previous, [value.slice(0, eq)]: value.slice(eq + 1) };
}

/** The `troupe-registry` command tree, writing to `io`. */
export function buildRegistryCli(io: CliIo): Command {
  const log = progressLogger('troupe-registry', io);
  const program = createCli({
    name: 'troupe-registry',
    description: `Run Apicurio Registry ${APICURIO_VERSION} (Confluent-compatible API) in the background, without Docker.`,
    version: packageVersion(import.meta.url),
    io,
  }).option(
    '--state-dir <dir>',
    'where the registry keeps its log and pid file (default: $TROUPE_STATE_DIR/registry or ./.troupe/registry)',
  );

  const stateDirOf = (): string => program.opts<{ stateDir?: string }>().stateDir ?? defaultRegistryStateDir();

  program
    .command('start')
    .description('start the registry (or report the running one); the last stdout line is SCHEMA_REGISTRY_URL=<url>')
    .option('--port <port>', 'HTTP port (default: a free one)', integerAtLeast(1))
    .option('--timeout <ms>', 'give up when the registry is not ready in time', integerAtLeast(1), 120_000)
    .option('-D, --property <key=value>', 'Apicurio/Quarkus property, repeatable (e.g. durable storage, see docs/schemas.md)', property, {})
    .action(async (opts: { port?: number; timeout: number; property: Record<string, string> }) => {
      const { state, started } = await startBackgroundRegistry(stateDirOf(), {
        ...(opts.port === undefined ? {} : { port: opts.port }),
        properties: opts.property,
        startTimeoutMs: opts.timeout,
        onProgress: log,
      });
      log(
        started
          ? `started registry pid ${state.pid} in ${state.startupMs} ms; log: ${state.logFile}`
          : `already running (pid ${state.pid}, started ${state.startedAt})`,
      );
      const durable =
        opts.property['apicurio.storage.kind'] === 'kafkasql' || (opts.property['apicurio.storage.sql.kind'] ?? 'h2') !== 'h2';
      log(`${durable ? 'durable storage' : 'in-memory storage: schemas are lost on stop'}. Stop it with \`npm run registry:stop\``);
      io.out(`SCHEMA_REGISTRY_URL=${state.url}`);
    });

  program
    .command('stop')
    .description('stop the registry and wait until its JVM has exited')
    .action(async () => {
      const stopped = await stopBackgroundRegistry(stateDirOf());
      log(stopped ? `stopped registry pid ${stopped.pid} (${stopped.url})` : 'no registry was running');
    });

  program
    .command('status')
    .description('exit 0 and print SCHEMA_REGISTRY_URL when running; exit 1 when not')
    .action(async () => {
      reportStatus(io, log, await registryStatus(stateDirOf()), (s) => `SCHEMA_REGISTRY_URL=${s.url}`);
    });

  return program;
}
