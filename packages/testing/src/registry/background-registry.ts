import { readFileSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isAlive } from '../kafka/run-state.js';
import { isApicurioCommandLine } from './apicurio-version.js';
import { LocalSchemaRegistry, type LocalSchemaRegistryOptions } from './local-registry.js';

/** What `troupe-registry start` leaves behind so `stop` and `status` find the JVM again. */
export interface BackgroundRegistryState {
  readonly pid: number;
  readonly url: string;
  readonly port: number;
  readonly logFile: string;
  readonly startedAt: string;
  readonly startupMs: number;
}

/** `$TROUPE_STATE_DIR/registry` or `<cwd>/.troupe/registry`. */
export function defaultRegistryStateDir(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): string {
  return join(env['TROUPE_STATE_DIR'] || join(cwd, '.troupe'), 'registry');
}

const stateFile = (dir: string): string => join(dir, 'registry.json');

/** True when `pid` is still our registry JVM; pids are recycled and we must not kill a stranger. */
function isOurRegistry(state: BackgroundRegistryState): boolean {
  if (!isAlive(state.pid)) return false;
  try {
    const cmdline = readFileSync(`/proc/${state.pid}/cmdline`, 'utf8');
    return isApicurioCommandLine(cmdline) && cmdline.includes(`quarkus.http.port=${state.port}`);
  } catch {
    return true;
  }
}

export async function registryStatus(stateDir: string): Promise<BackgroundRegistryState | undefined> {
  let state: BackgroundRegistryState;
  try {
    state = JSON.parse(await readFile(stateFile(stateDir), 'utf8')) as BackgroundRegistryState;
  } catch {
    return undefined;
  }
  if (isOurRegistry(state)) return state;
  await rm(stateFile(stateDir), { force: true });
  return undefined;
}

/** Starts a detached registry, or returns the one already running from this state dir. */
export async function startBackgroundRegistry(
  stateDir: string,
  options: Omit<LocalSchemaRegistryOptions, 'detached' | 'logFile'> = {},
): Promise<{ state: BackgroundRegistryState; started: boolean }> {
  const running = await registryStatus(stateDir);
  if (running) return { state: running, started: false };
  await mkdir(stateDir, { recursive: true });
  const reg = await LocalSchemaRegistry.start({ ...options, detached: true, logFile: join(stateDir, 'registry.log') });
  const state: BackgroundRegistryState = {
    pid: reg.pid,
    url: reg.url,
    port: reg.port,
    logFile: reg.logFile,
    startedAt: new Date().toISOString(),
    startupMs: reg.startupMs,
  };
  await writeFile(stateFile(stateDir), JSON.stringify(state, null, 2));
  return { state, started: true };
}

/** Stops the background registry (SIGTERM, SIGKILL after 15 s) and waits until it is gone. */
export async function stopBackgroundRegistry(stateDir: string): Promise<BackgroundRegistryState | undefined> {
  const state = await registryStatus(stateDir);
  if (!state) return undefined;
  process.kill(state.pid, 'SIGTERM');
  const deadline = Date.now() + 15_000;
  while (isAlive(state.pid)) {
    if (Date.now() > deadline) {
      process.kill(state.pid, 'SIGKILL');
      break;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await rm(stateFile(stateDir), { force: true });
  return state;
}
