// Child processes for contenders: started, watched for an early exit, stopped by their pid.
import { spawn, type ChildProcess } from 'node:child_process';

export interface Contender {
  readonly child: ChildProcess;
  /** Why it ended early (exit code and the tail of stderr), or undefined while it runs. */
  readonly exited: () => string | undefined;
  /** Resolves when the process has printed `line` on stdout. */
  readonly printed: (line: string) => Promise<void>;
  /** All of stdout so far. */
  readonly stdout: () => string;
  /** Stderr so far (the last 1 MB). */
  readonly stderr: () => string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves on exit. */
  readonly stop: (graceMs?: number) => Promise<void>;
}

export function startProcess(command: string, args: readonly string[], env: NodeJS.ProcessEnv): Contender {
  const child = spawn(command, [...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let ended: string | undefined;
  const waiters: { line: string; resolve: () => void; reject: (e: Error) => void }[] = [];
  const settle = (): void => {
    for (const w of [...waiters]) {
      if (out.split('\n').includes(w.line)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      } else if (ended !== undefined) {
        waiters.splice(waiters.indexOf(w), 1);
        w.reject(new Error(`${command} ended before printing '${w.line}': ${ended}`));
      }
    }
  };
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    settle();
  });
  child.stderr.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-1_000_000);
  });
  const exit = new Promise<void>((resolve) => {
    child.on('exit', (code, signal) => {
      ended = `exit ${code ?? signal}; stderr: ${err.trim().split('\n').slice(-15).join('\n')}`;
      settle();
      resolve();
    });
  });
  return {
    child,
    exited: () => ended,
    printed: (line) =>
      new Promise<void>((resolve, reject) => {
        waiters.push({ line, resolve, reject });
        settle();
      }),
    stdout: () => out,
    stderr: () => err,
    stop: async (graceMs = 10_000) => {
      if (ended !== undefined) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exit;
      clearTimeout(timer);
    },
  };
}
