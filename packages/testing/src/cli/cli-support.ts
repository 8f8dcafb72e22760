import { InvalidArgumentError, type Command } from 'commander';
import { TestingError } from '../kafka/errors.js';

/** Progress and errors go to stderr with the tool's name: stdout is kept for the `NAME=value` line. */
export function stderrLogger(tool: string): (message: string) => void {
  return (message) => void process.stderr.write(`[${tool}] ${message}\n`);
}

export function positiveInteger(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed <= 0) throw new InvalidArgumentError('expected a positive integer');
  return parsed;
}

/** What `status` says of a background JVM: exit 0 and its `NAME=value` line when running, exit 3 when not. */
export function reportStatus<S extends { readonly pid: number; readonly startedAt: string; readonly logFile: string }>(
  err: (message: string) => void,
  state: S | undefined,
  envLine: (running: S) => string,
): void {
  if (!state) {
    err('not running');
    process.exitCode = 3;
    return;
  }
  err(`running: pid ${state.pid}, since ${state.startedAt}, log ${state.logFile}`);
  process.stdout.write(`${envLine(state)}\n`);
}

/** Runs the program; a TestingError prints its code and advice, anything else its stack; exit 1. */
export async function runCli(program: Command, err: (message: string) => void): Promise<void> {
  try {
    await program.parseAsync();
  } catch (error) {
    if (error instanceof TestingError) err(`${error.code}: ${error.message}`);
    else err(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exitCode = 1;
  }
}
