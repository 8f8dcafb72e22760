// The conventions every Troupe command-line tool shares, written once: `--version`, `--verbose`,
// exit codes, how errors are printed, and in-process runs for tests. Each tool builds its commands
// on `createCli(...)` and runs them with `runCli(...)`; options that several tools need (brokers,
// registry, connection security) are added here too, so a new flag reaches every tool at once.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { TroupeError } from '@troupe/core';

/** Where a tool writes, one line per call; tests pass buffers, the bin passes the process streams. */
export interface CliIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

/** stdout and stderr of this process. */
export function processIo(): CliIo {
  return {
    out: (line) => void process.stdout.write(`${line}\n`),
    err: (line) => void process.stderr.write(`${line}\n`),
  };
}

/**
 * Exit codes of every tool: 0 ok, 1 the check or operation failed (incompatible schema, broker
 * not running, registry down), 2 the invocation or its input was wrong (unknown option, bad file).
 */
export const EXIT = { ok: 0, failed: 1, badInput: 2 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** Thrown by an action that has already said what went wrong, to end with `code`. */
export class CliExit extends Error {
  override readonly name = 'CliExit';
  constructor(readonly code: ExitCode) {
    super(`exit ${code}`);
  }
}

/** Ends the run as a usage error (exit 2): `message` is printed as `<tool>: <message>`. */
export function usageError(command: Command, message: string): never {
  return command.error(message, { exitCode: EXIT.badInput, code: 'troupe.usage' });
}

export interface CliSpec {
  /** The bin name, e.g. `troupe-dlq`. */
  readonly name: string;
  readonly description: string;
  /** The package's version; `packageVersion(import.meta.url)` reads it. */
  readonly version: string;
  readonly io: CliIo;
}

/**
 * The root command of a tool: `--version`, `--verbose`, output through `io`, and errors as
 * `<tool>: <message>` (commander's `error:` prefix dropped) instead of exiting the process.
 * Subcommands made with `.command()` inherit all of it.
 */
export function createCli(spec: CliSpec): Command {
  const { name, io } = spec;
  return new Command(name)
    .description(spec.description)
    .version(spec.version, '-V, --version', 'print the version and exit')
    .option('--verbose', 'print stack traces and causes with errors')
    .helpOption('-h, --help', 'print this help and exit')
    .exitOverride()
    .showHelpAfterError(`(${name} --help lists the commands and options)`)
    .addHelpText('after', '\nExit codes: 0 ok, 1 the check or operation failed, 2 wrong usage or input.')
    .configureOutput({
      writeOut: (s) => io.out(s.trimEnd()),
      writeErr: (s) => io.err(s.trimEnd()),
      outputError: (s, write) => write(`${name}: ${s.replace(/^error: /, '')}`),
    });
}

export interface RunCliOptions {
  /**
   * The exit code for an error an action threw, when the default is wrong for it (the default is
   * 1; a `TroupeError` whose code says the input was bad may map to 2). `undefined` keeps 1.
   */
  readonly exitCodeOf?: (error: unknown) => ExitCode | undefined;
}

/** Runs `program` on `argv` (without node and script) and returns the exit code; never exits the process. */
export async function runCli(program: Command, argv: readonly string[], options: RunCliOptions = {}): Promise<number> {
  const io = ioOf(program);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CliExit) return error.code;
    // commander has printed its message (or the help/version) already.
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.badInput;
    const verbose = argv.includes('--verbose');
    io.err(`${program.name()}: ${describeCliError(error, verbose)}`);
    if (!verbose && !(error instanceof TroupeError)) io.err(`(run again with --verbose for the stack trace)`);
    return options.exitCodeOf?.(error) ?? EXIT.failed;
  }
}

/** `process.exitCode` from a run on this process's arguments; for the bin entry points. */
export async function runMain(program: Command, options: RunCliOptions = {}): Promise<void> {
  process.exitCode = await runCli(program, process.argv.slice(2), options);
}

/**
 * One line for a user: a TroupeError as `CODE: message`, anything else as its message; never the
 * `Error:` prefix. With `verbose`, the stack and every cause follow.
 */
export function describeCliError(error: unknown, verbose = false): string {
  const line = (e: unknown): string =>
    e instanceof TroupeError ? `${String(e.code)}: ${e.message}` : e instanceof Error ? e.message : String(e);
  if (!verbose) return line(error);
  const parts: string[] = [];
  for (let e: unknown = error, depth = 0; e !== undefined && depth < 10; e = e instanceof Error ? e.cause : undefined, depth++) {
    parts.push(`${depth === 0 ? '' : 'caused by: '}${line(e)}${e instanceof Error && e.stack ? `\n${stackFrames(e.stack)}` : ''}`);
  }
  return parts.join('\n');
}

const stackFrames = (stack: string): string =>
  stack
    .split('\n')
    .filter((l) => /^\s+at /.test(l))
    .join('\n');

/** The `version` of the nearest package.json above `moduleUrl` (works from src/ and dist/ alike). */
export function packageVersion(moduleUrl: string): string {
  for (let dir = dirname(fileURLToPath(moduleUrl)); ; dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version?: unknown };
      if (typeof pkg.version === 'string') return pkg.version;
    } catch {
      // no package.json here: keep walking up
    }
    if (dirname(dir) === dir) return '0.0.0';
  }
}

function ioOf(program: Command): CliIo {
  const out = program.configureOutput();
  return {
    out: (line) => out.writeOut?.(`${line}\n`),
    err: (line) => out.writeErr?.(`${line}\n`),
  };
}

// ---- Options several tools share ----------------------------------------------------------------

/** `--brokers <list>` (default `$KAFKA_BROKERS`), parsed into host:port strings. */
export function brokersOption(): Option {
  return new Option('--brokers <list>', 'Kafka bootstrap servers, host:port[,host:port]').env('KAFKA_BROKERS').argParser(brokerList);
}

/** The brokers of `--brokers`/`KAFKA_BROKERS`, or a usage error that says how to give them. */
export function requireBrokers(command: Command): string[] {
  const brokers = command.optsWithGlobals<{ brokers?: string[] }>().brokers;
  if (brokers === undefined || brokers.length === 0) {
    return usageError(command, 'no brokers: pass --brokers host:port[,host:port] or set KAFKA_BROKERS (npm run kafka:start prints one)');
  }
  return brokers;
}

function brokerList(value: string): string[] {
  const list = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const b of list) {
    if (!/^[^\s:]+:\d{1,5}$/.test(b)) throw new InvalidArgumentError(`'${b}' is not host:port`);
  }
  return list;
}

/** `--registry <url>` (default `$SCHEMA_REGISTRY_URL`): a Confluent-compatible schema registry. */
export function registryOption(what = 'Confluent-compatible schema registry URL'): Option {
  return new Option('--registry <url>', what).env('SCHEMA_REGISTRY_URL');
}

/** The URL of `--registry`/`SCHEMA_REGISTRY_URL`, or a usage error that says how to give it. */
export function requireRegistry(command: Command): string {
  const url = command.optsWithGlobals<{ registry?: string }>().registry;
  if (url === undefined || url === '') {
    return usageError(command, 'no registry: pass --registry URL or set SCHEMA_REGISTRY_URL (npm run registry:start prints one)');
  }
  return url;
}

/** An option parser for integers >= `min`. */
export function integerAtLeast(min: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isInteger(n) || n < min)
      throw new InvalidArgumentError(`expected an integer >= ${min}, got '${value}'`);
    return n;
  };
}
