import { readFile, readdir } from 'node:fs/promises';
import { isAlive } from '../kafka/run-state.js';
import { isApicurioCommandLine } from './apicurio-version.js';

/** JVM system property naming the Node process that owns a non-detached registry. */
export const OWNER_PROPERTY = 'troupe.registry.owner';

/**
 * Kills registry JVMs whose owning Node process is gone. A test run killed with SIGKILL cannot run
 * its exit hooks, so its registry would otherwise live on, holding memory and ports. Only JVMs
 * carrying our owner property are considered; detached registries (`troupe-registry start`) carry
 * none. Linux only (reads /proc); elsewhere it finds nothing. Returns the pids it killed.
 */
export async function sweepOrphanRegistries(): Promise<number[]> {
  const entries = await readdir('/proc').catch(() => [] as string[]);
  const killed: number[] = [];
  const marker = `-D${OWNER_PROPERTY}=`;
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (!isApicurioCommandLine(cmdline)) continue;
    const arg = cmdline.split('\0').find((a) => a.startsWith(marker));
    if (arg === undefined) continue;
    const owner = Number(arg.slice(marker.length));
    if (!Number.isInteger(owner) || isAlive(owner)) continue;
    try {
      process.kill(Number(entry), 'SIGKILL');
      killed.push(Number(entry));
    } catch {
      // Gone already, or not ours to signal.
    }
  }
  return killed;
}
