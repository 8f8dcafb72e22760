import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';

export interface ChildSpec {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env: NodeJS.ProcessEnv;
}

/**
 * Keeps child processes running ("let it fail"): a child that exits while the run is on is started
 * again after a short pause. Each start is announced on stderr with its pid, so an operator — or
 * a fault test — can see and kill it.
 */
export class Supervisor {
  private readonly children = new Map<string, ChildProcess>();
  private stopping = false;
  readonly restarts = new Map<string, number>();

  constructor(
    private readonly log: (line: string) => void,
    private readonly restart = true,
    /** Every chunk a child writes to stderr (e.g. to keep full logs); the last 4000 characters are shown on exit anyway. */
    private readonly output?: (name: string, chunk: string) => void,
  ) {}

  start(spec: ChildSpec): void {
    const child = spawn(spec.command, [...spec.args], { env: spec.env, stdio: ['ignore', 'ignore', 'pipe'] });
    this.children.set(spec.name, child);
    this.log(`[supervisor] ${spec.name} started (pid ${child.pid ?? '?'})`);
    let tail = '';
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      tail = (tail + chunk).slice(-4000);
      this.output?.(spec.name, chunk);
    });
    child.once('exit', (code, signal) => {
      if (this.stopping) return;
      this.log(`[supervisor] ${spec.name} exited (${signal ?? `code ${code}`})${tail ? `; last output:\n${tail.trimEnd()}` : ''}`);
      if (!this.restart) return;
      this.restarts.set(spec.name, (this.restarts.get(spec.name) ?? 0) + 1);
      setTimeout(() => {
        if (!this.stopping) this.start(spec);
      }, 500).unref();
    });
  }

  pid(name: string): number | undefined {
    return this.children.get(name)?.pid;
  }

  /** SIGTERM to every child (graceful shutdown), SIGKILL to any still running after `graceMs`. */
  async stop(graceMs = 15_000): Promise<void> {
    this.stopping = true;
    await Promise.all(
      [...this.children.values()].map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = once(child, 'exit');
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }),
    );
  }
}
