import { appendFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, waitFor } from '@troupe/testing';
import { SERVICE_NAMES, type ServiceName } from '../../../examples/order-fulfillment/src/services/index.js';
import { Supervisor } from '../../../examples/order-fulfillment/src/supervisor.js';

const SERVICE_BIN = fileURLToPath(new URL('../../../examples/order-fulfillment/dist/bin/service.js', import.meta.url));
const TRACKER_BIN = fileURLToPath(new URL('../../../packages/saga-tracker/dist/cli/troupe-tracker.js', import.meta.url));
const SCHEMAS_DIR = fileURLToPath(new URL('../../../schemas', import.meta.url));

export const TRACKER = 'saga-tracker';
export type ProcessName = ServiceName | typeof TRACKER;
export { SERVICE_NAMES, type ServiceName };

export interface FleetOptions {
  readonly brokers: string;
  readonly registryUrl: string;
  /** PostgreSQL of the services' side effects (and of the tracker with `trackerStore: 'postgres'`). */
  readonly databaseUrl: string;
  /** Services' tables are `<tablePrefix>_<service>`. */
  readonly tablePrefix: string;
  readonly partitions: number;
  readonly trackerStore: 'memory' | 'postgres';
  /** PostgreSQL schema of the tracker (with `trackerStore: 'postgres'`). */
  readonly trackerSchema: string;
  readonly trackerGroup: string;
  /** Group session timeout of every process: how soon a killed one's partitions move. */
  readonly sessionTimeoutMs: number;
  /** Every supervisor line and each dead child's last output go here. */
  readonly logFile: string;
  /** Extra environment per service (e.g. a slowed handler). */
  readonly extraEnv?: Partial<Record<ServiceName, Record<string, string>>>;
}

/**
 * The order-fulfillment services and the tracker as separate processes, started the way the demo's
 * `--kafka` mode starts them (the example's `service.js` and `troupe-tracker`) under the example's
 * supervisor, which restarts any process that dies.
 */
export class ServiceFleet {
  private readonly supervisor: Supervisor;
  private readonly started = new Map<string, number>();
  private readonly killed = new Map<string, number>();
  readonly trackerUrl: string;
  /** The order service's HTTP API (`POST /orders`). */
  readonly ordersUrl: string;

  private constructor(
    private readonly opts: FleetOptions,
    trackerPort: number,
    ordersPort: number,
  ) {
    this.trackerUrl = `http://127.0.0.1:${trackerPort}`;
    this.ordersUrl = `http://127.0.0.1:${ordersPort}`;
    this.supervisor = new Supervisor(
      (line) => {
        const started = /^\[supervisor\] (\S+) started/.exec(line);
        if (started?.[1] !== undefined) this.started.set(started[1], Date.now());
        appendFileSync(opts.logFile, `${new Date().toISOString()} ${line}\n`);
      },
      true,
      // Each process's whole stderr (LOG_LEVEL warn) beside the supervisor log, for post-mortems.
      (name, chunk) => appendFileSync(join(dirname(opts.logFile), `${name}.log`), chunk),
    );
  }

  static async start(opts: FleetOptions): Promise<ServiceFleet> {
    const fleet = new ServiceFleet(opts, await freePort(), await freePort());
    for (const name of SERVICE_NAMES) fleet.startService(name);
    fleet.startTracker();
    await fleet.waitForTracker();
    await waitFor(async () => (await fetch(`${fleet.ordersUrl}/orders/count`)).ok, {
      description: `the order service's API at ${fleet.ordersUrl} (log: ${opts.logFile})`,
      timeoutMs: 120_000,
      intervalMs: 250,
    });
    return fleet;
  }

  private env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    const o = this.opts;
    return {
      ...process.env,
      KAFKA_BROKERS: o.brokers,
      SCHEMA_REGISTRY_URL: o.registryUrl,
      DATABASE_URL: o.databaseUrl,
      DEMO_TABLE_PREFIX: o.tablePrefix,
      DEMO_PARTITIONS: String(o.partitions),
      KAFKA_SESSION_TIMEOUT_MS: String(o.sessionTimeoutMs),
      ORDER_API_PORT: new URL(this.ordersUrl).port,
      LOG_LEVEL: 'warn',
      ...extra,
    };
  }

  private startService(name: ServiceName): void {
    this.supervisor.start({ name, command: process.execPath, args: [SERVICE_BIN, name], env: this.env(this.opts.extraEnv?.[name]) });
  }

  private startTracker(): void {
    const o = this.opts;
    const port = new URL(this.trackerUrl).port;
    // A memory tracker reads everything again after a restart (a fresh group each time); a
    // PostgreSQL one resumes its own group where its store left off.
    const store =
      o.trackerStore === 'postgres'
        ? ['--store', 'postgres', '--postgres-url', o.databaseUrl, '--postgres-schema', o.trackerSchema, '--group', o.trackerGroup]
        : [];
    this.supervisor.start({
      name: TRACKER,
      command: process.execPath,
      args: [
        TRACKER_BIN,
        '--schemas',
        SCHEMAS_DIR,
        '--port',
        port,
        '--session-timeout',
        String(o.sessionTimeoutMs),
        '--log-level',
        'warn',
        ...store,
      ],
      env: this.env(),
    });
  }

  /** Waits until the tracker answers (after a start or a restart). */
  async waitForTracker(timeoutMs = 120_000): Promise<void> {
    await waitFor(async () => (await fetch(`${this.trackerUrl}/health`)).status < 500, {
      description: `the tracker at ${this.trackerUrl} (log: ${this.opts.logFile})`,
      timeoutMs,
      intervalMs: 250,
    });
  }

  pid(name: ProcessName): number | undefined {
    return this.supervisor.pid(name);
  }

  /** When the process was last (re)started (ms since the epoch). */
  startedAt(name: ProcessName): number {
    return this.started.get(name) ?? 0;
  }

  /** When the process was last killed by {@link kill} (ms since the epoch; 0 = never). */
  lastKillAt(name: ProcessName): number {
    return this.killed.get(name) ?? 0;
  }

  /** SIGKILLs the process (no clean shutdown); the supervisor starts it again. False if it was not running. */
  kill(name: ProcessName): boolean {
    const pid = this.pid(name);
    if (pid === undefined) return false;
    try {
      process.kill(pid, 'SIGKILL');
      this.killed.set(name, Date.now());
      return true;
    } catch {
      return false;
    }
  }

  /** Restarts per process so far. */
  restarts(): Record<string, number> {
    return Object.fromEntries(this.supervisor.restarts);
  }

  /** Resident set size of a running process in MB (Linux /proc), undefined when not running. */
  async rssMb(name: ProcessName): Promise<number | undefined> {
    const pid = this.pid(name);
    if (pid === undefined) return undefined;
    const { readFile } = await import('node:fs/promises');
    const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
    const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
    return kb === undefined ? undefined : Math.round(Number(kb) / 1024);
  }

  async stop(): Promise<void> {
    await this.supervisor.stop(10_000);
  }
}
