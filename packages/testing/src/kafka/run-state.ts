import { readFileSync } from 'node:fs';
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Written into every run folder; lets a later process find and clean up the JVMs of a run. */
export interface RunOwner {
  /** The Node process that started the run and kills it on exit. */
  readonly ownerPid: number;
  /** Detached runs (`troupe-kafka start`) outlive their owner on purpose. */
  readonly detached: boolean;
  readonly createdAt: string;
  readonly brokers: readonly string[];
  /** Broker JVM pids by node id. */
  readonly pids: Readonly<Record<string, number>>;
}

export const OWNER_FILE = 'owner.json';

export function runsDir(stateDir: string): string {
  return join(stateDir, 'runs');
}

export async function writeOwner(runDir: string, owner: RunOwner): Promise<void> {
  await mkdir(runDir, { recursive: true });
  const tmp = join(runDir, `${OWNER_FILE}.tmp`);
  await writeFile(tmp, JSON.stringify(owner, null, 2));
  await rename(tmp, join(runDir, OWNER_FILE));
}

export async function readOwner(runDir: string): Promise<RunOwner | undefined> {
  try {
    return JSON.parse(await readFile(join(runDir, OWNER_FILE), 'utf8')) as RunOwner;
  } catch {
    return undefined;
  }
}

/** True when a process with this pid exists (and is not a zombie we could still reap). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    // A zombie has exited: treat it as gone.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z /.test(stat);
  } catch {
    return true;
  }
}

/**
 * True when `pid` is still the broker JVM of `runDir`: pids are recycled, and we must never kill a
 * stranger's process. Where /proc is unavailable (macOS), trust the pid.
 */
export function isBrokerOf(pid: number, runDir: string): boolean {
  if (!isAlive(pid)) return false;
  let cmdline: string;
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ENOENT' || process.platform !== 'linux';
  }
  return cmdline.includes(runDir);
}

/** SIGKILLs the JVMs of runs whose non-detached owner died without cleaning up, and removes them. */
export async function sweepStaleRuns(stateDir: string): Promise<number> {
  const dir = runsDir(stateDir);
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch {
    return 0;
  }
  let swept = 0;
  for (const entry of entries) {
    const runDir = join(dir, entry);
    const owner = await readOwner(runDir);
    // No owner file yet: a run being created right now by another process. Leave it.
    if (!owner || owner.detached || isAlive(owner.ownerPid)) continue;
    for (const pid of Object.values(owner.pids)) {
      if (isBrokerOf(pid, runDir)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Raced with its exit.
        }
      }
    }
    await rm(runDir, { recursive: true, force: true });
    swept += 1;
  }
  return swept;
}

/**
 * Kills broker JVMs left behind by test processes that died without cleaning up (e.g. SIGKILLed)
 * and deletes their data. Every launcher start does this too; exported for scripts and tests.
 */
export async function cleanupStaleKafkaRuns(stateDir: string): Promise<number> {
  return sweepStaleRuns(stateDir);
}
