import { open, readFile, rm, writeFile, rename, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { killPid } from './kafka-nodes.js';
import { LocalKafka, type LocalKafkaOptions } from './local-kafka.js';
import { isAlive, isBrokerOf } from './run-state.js';

/** What `troupe-kafka start` leaves in the state dir so `stop` and `status` find the broker. */
export interface BackgroundBrokerState {
  readonly pid: number;
  readonly brokers: readonly string[];
  readonly runDir: string;
  readonly logFile: string;
  readonly startedAt: string;
}

const STATE_FILE = 'background.json';
const LOCK_FILE = 'background.lock';

async function readState(stateDir: string): Promise<BackgroundBrokerState | undefined> {
  try {
    return JSON.parse(await readFile(join(stateDir, STATE_FILE), 'utf8')) as BackgroundBrokerState;
  } catch {
    return undefined;
  }
}

/** The running background broker, or undefined (stale state of a dead one is removed). */
export async function backgroundStatus(stateDir: string): Promise<BackgroundBrokerState | undefined> {
  const state = await readState(stateDir);
  if (!state) return undefined;
  if (isBrokerOf(state.pid, state.runDir)) return state;
  await forget(stateDir, state);
  return undefined;
}

async function forget(stateDir: string, state: BackgroundBrokerState): Promise<void> {
  await rm(join(stateDir, STATE_FILE), { force: true });
  await rm(state.runDir, { recursive: true, force: true });
}

/** Serialises concurrent `start`/`stop` calls on one state dir. */
async function withLock<T>(stateDir: string, work: () => Promise<T>): Promise<T> {
  await mkdir(stateDir, { recursive: true });
  const lock = join(stateDir, LOCK_FILE);
  for (;;) {
    try {
      const handle = await open(lock, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number(await readFile(lock, 'utf8').catch(() => ''));
      // A lock left by a dead process (or one being written right now, holder 0) is broken after a pause.
      if (Number.isInteger(holder) && holder > 0 && !isAlive(holder)) await rm(lock, { force: true });
      else await sleep(200);
    }
  }
  try {
    return await work();
  } finally {
    await rm(lock, { force: true });
  }
}

/**
 * Starts a detached broker that outlives this process, or returns the one already running.
 * `started` tells which.
 */
export async function startBackgroundBroker(
  stateDir: string,
  options: LocalKafkaOptions = {},
): Promise<{ state: BackgroundBrokerState; started: boolean }> {
  return withLock(stateDir, async () => {
    const running = await backgroundStatus(stateDir);
    if (running) return { state: running, started: false };
    const kafka = await LocalKafka.start({ ...options, stateDir, detached: true, keepData: true });
    const state: BackgroundBrokerState = {
      pid: kafka.pid as number,
      brokers: kafka.brokers,
      runDir: kafka.runDir,
      logFile: kafka.logFile,
      startedAt: new Date().toISOString(),
    };
    const tmp = join(stateDir, `${STATE_FILE}.tmp`);
    await writeFile(tmp, JSON.stringify(state, null, 2));
    await rename(tmp, join(stateDir, STATE_FILE));
    return { state, started: true };
  });
}

/** Stops the background broker and waits until its JVM is gone; resolves what was stopped. */
export async function stopBackgroundBroker(stateDir: string): Promise<BackgroundBrokerState | undefined> {
  return withLock(stateDir, async () => {
    const state = await readState(stateDir);
    if (!state) return undefined;
    await killPid(state.pid, state.runDir);
    await forget(stateDir, state);
    return state;
  });
}
