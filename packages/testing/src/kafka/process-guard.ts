import type { ChildProcess } from 'node:child_process';

/**
 * Kills every broker JVM this process started (and did not detach) when the process exits or is
 * told to stop, so a crashed or interrupted test run leaves no JVM behind. A JVM orphaned by a
 * SIGKILL of its parent is caught later by the stale-run sweep (see run-state.ts).
 */
const guarded = new Set<ChildProcess>();
let installed = false;

const SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

function killAll(): void {
  for (const child of guarded) {
    try {
      child.kill('SIGKILL');
    } catch {
      // Already gone.
    }
  }
  guarded.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  killAll();
  // When we are the only listener, adding it has suppressed Node's default "exit on signal":
  // restore it so Ctrl-C still ends the process.
  if (process.listenerCount(signal) === 1) {
    uninstall();
    process.kill(process.pid, signal);
  }
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', killAll);
  for (const signal of SIGNALS) process.on(signal, onSignal);
}

function uninstall(): void {
  if (!installed) return;
  installed = false;
  process.off('exit', killAll);
  for (const signal of SIGNALS) process.off(signal, onSignal);
}

/** Kill `child` if this process ends before `release(child)` is called. */
export function guardChild(child: ChildProcess): void {
  guarded.add(child);
  install();
  child.once('exit', () => release(child));
}

export function release(child: ChildProcess): void {
  guarded.delete(child);
  if (guarded.size === 0) uninstall();
}
