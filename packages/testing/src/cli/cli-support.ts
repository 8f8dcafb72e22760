import { CliExit, EXIT, type CliIo } from '@troupe/schema-registry';

/** Progress goes to stderr with the tool's name: stdout is kept for the `NAME=value` line. */
export function progressLogger(tool: string, io: CliIo): (message: string) => void {
  return (message) => io.err(`[${tool}] ${message}`);
}

/**
 * What `status` says of a background JVM: its `NAME=value` line on stdout (exit 0) when running;
 * exit 1 (the check failed) when not.
 */
export function reportStatus<S extends { readonly pid: number; readonly startedAt: string; readonly logFile: string }>(
  io: CliIo,
  log: (message: string) => void,
  state: S | undefined,
  envLine: (running: S) => string,
): void {
  if (!state) {
    log('not running');
    throw new CliExit(EXIT.failed);
  }
  log(`running: pid ${state.pid}, since ${state.startedAt}, log ${state.logFile}`);
  io.out(envLine(state));
}
