import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { TestingError } from '../kafka/errors.js';
import { tailFile } from '../kafka/log-tail.js';
import { assertPortFree, freePort } from '../kafka/ports.js';
import { guardChild, release } from '../kafka/process-guard.js';
import { isAlive } from '../kafka/run-state.js';
import { ensureApicurio } from './apicurio-dist.js';
import { APICURIO_VERSION, CCOMPAT_PATH } from './apicurio-version.js';
import { OWNER_PROPERTY, sweepOrphanRegistries } from './orphan-sweep.js';
import { findRegistryJava } from './registry-java.js';

/** Confluent's compatibility levels, as accepted by `PUT /config`. */
export type RegistryCompatibility =
  'BACKWARD' | 'BACKWARD_TRANSITIVE' | 'FORWARD' | 'FORWARD_TRANSITIVE' | 'FULL' | 'FULL_TRANSITIVE' | 'NONE';

export interface LocalSchemaRegistryOptions {
  /** HTTP port on 127.0.0.1. @default a free port */
  readonly port?: number;
  /** @default $TROUPE_CACHE_DIR or ~/.cache/troupe */
  readonly cacheDir?: string;
  /** @default 'mvn' */
  readonly mavenPath?: string;
  /** Java 17+ to run Apicurio with. @default found by `findRegistryJava()` */
  readonly javaPath?: string;
  /** @default 120000 */
  readonly startTimeoutMs?: number;
  /** @default `<tmpdir>/troupe-registry-<port>.log` */
  readonly logFile?: string;
  /**
   * Global level set after start. Apicurio defaults to NONE; Confluent's default is BACKWARD, and
   * tests should see what production registries do.
   * @default 'BACKWARD'
   */
  readonly defaultCompatibility?: RegistryCompatibility;
  /**
   * Leave the registry running when this process exits (`troupe-registry start`). Otherwise it is
   * killed with this process.
   * @default false
   */
  readonly detached?: boolean;
  /**
   * Extra Apicurio/Quarkus properties passed as `-Dkey=value`, e.g. durable storage:
   * `{ 'apicurio.storage.kind': 'kafkasql', 'apicurio.kafkasql.bootstrap.servers': 'localhost:9092' }`.
   * @default {} (in-memory H2 storage: nothing survives a restart)
   */
  readonly properties?: Readonly<Record<string, string>>;
  /** @default 512 */
  readonly maxHeapMb?: number;
  readonly onProgress?: (message: string) => void;
}

function validate(o: LocalSchemaRegistryOptions): void {
  const bad = (what: string): never => {
    throw new TestingError('INVALID_OPTIONS', `LocalSchemaRegistry: ${what}`);
  };
  if (o.port !== undefined && (!Number.isInteger(o.port) || o.port < 1 || o.port > 65535))
    bad(`port ${o.port} must be an integer 1-65535 (or omit it for a free port)`);
  if (o.startTimeoutMs !== undefined && !(o.startTimeoutMs > 0)) bad(`startTimeoutMs ${o.startTimeoutMs} must be > 0`);
  if (o.maxHeapMb !== undefined && !(Number.isInteger(o.maxHeapMb) && o.maxHeapMb >= 128))
    bad(`maxHeapMb ${o.maxHeapMb} must be an integer >= 128`);
}

async function answers(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/subjects`, { signal: AbortSignal.timeout(2000) });
    return res.ok;
  } catch {
    return false;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * A real Apicurio Registry on 127.0.0.1, started from the Maven Central distribution with
 * `java -jar apicurio-registry-app-<version>-runner.jar`. Its Confluent-compatible API (`url`) is what
 * `@kafkajs/confluent-schema-registry` and Troupe's `ConfluentSchemaRegistry` talk to.
 */
export class LocalSchemaRegistry {
  /** Confluent-compatible base URL: `http://127.0.0.1:<port>/apis/ccompat/v7`. */
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  readonly logFile: string;
  /** Milliseconds from spawning the JVM to the API answering. */
  readonly startupMs: number;
  private readonly child: ChildProcess;

  private constructor(init: { url: string; port: number; logFile: string; startupMs: number; child: ChildProcess }) {
    this.url = init.url;
    this.port = init.port;
    this.pid = init.child.pid ?? -1;
    this.logFile = init.logFile;
    this.startupMs = init.startupMs;
    this.child = init.child;
  }

  static async start(options: LocalSchemaRegistryOptions = {}): Promise<LocalSchemaRegistry> {
    validate(options);
    const progress = options.onProgress ?? ((): void => undefined);
    const dist = await ensureApicurio({
      ...(options.cacheDir === undefined ? {} : { cacheDir: options.cacheDir }),
      ...(options.mavenPath === undefined ? {} : { mavenPath: options.mavenPath }),
      onProgress: progress,
    });
    const java = options.javaPath ?? (await findRegistryJava()).path;
    const detached = options.detached ?? false;
    const swept = await sweepOrphanRegistries();
    if (swept.length > 0) progress(`stopped ${swept.length} registry JVM(s) left behind by killed runs (pids ${swept.join(', ')})`);
    const port = options.port ?? (await freePort());
    if (options.port !== undefined) await assertPortFree(port);
    let managementPort = await freePort();
    while (managementPort === port) managementPort = await freePort();
    const logFile = options.logFile ?? join(tmpdir(), `troupe-registry-${port}.log`);
    await mkdir(dirname(logFile), { recursive: true });
    const props: Record<string, string> = {
      'quarkus.http.host': '127.0.0.1',
      'quarkus.http.port': String(port),
      // The management interface (health, metrics) is built in; left alone it binds 0.0.0.0:9000
      // and a second instance fails with "Address already in use".
      'quarkus.management.host': '127.0.0.1',
      'quarkus.management.port': String(managementPort),
      ...options.properties,
      // Marks a registry that must die with this process; see sweepOrphanRegistries.
      ...(detached ? {} : { [OWNER_PROPERTY]: String(process.pid) }),
    };
    const args = [
      `-Xmx${options.maxHeapMb ?? 512}m`,
      // C1 only: the registry starts faster and tests never run long enough to need C2.
      '-XX:TieredStopAtLevel=1',
      ...Object.entries(props).map(([k, v]) => `-D${k}=${v}`),
      '-jar',
      dist.runJar,
    ];
    const log = await open(logFile, 'w');
    const t0 = Date.now();
    progress(`starting Apicurio Registry ${APICURIO_VERSION} on 127.0.0.1:${port} (log: ${logFile})`);
    let child: ChildProcess;
    try {
      child = spawn(java, args, { cwd: dist.dir, stdio: ['ignore', log.fd, log.fd], detached });
    } finally {
      await log.close();
    }
    if (detached) child.unref();
    else guardChild(child);
    let exited: number | null | undefined;
    child.once('exit', (code) => {
      exited = code ?? -1;
    });
    const failure = async (code: 'REGISTRY_FAILED' | 'START_TIMEOUT', what: string): Promise<TestingError> => {
      if (child.pid !== undefined && isAlive(child.pid)) child.kill('SIGKILL');
      return new TestingError(code, `${what}\n--- ${logFile} (tail) ---\n${await tailFile(logFile, 25)}`);
    };
    const url = `http://127.0.0.1:${port}${CCOMPAT_PATH}`;
    const deadline = t0 + (options.startTimeoutMs ?? 120_000);
    for (;;) {
      if (exited !== undefined) {
        throw await failure(
          'REGISTRY_FAILED',
          `Apicurio Registry exited with code ${exited} before it answered on ${url}. The log below says why (a port clash or a Java too old are the usual causes).`,
        );
      }
      if (await answers(url)) break;
      if (Date.now() > deadline) {
        throw await failure(
          'START_TIMEOUT',
          `Apicurio Registry did not answer on ${url} within ${options.startTimeoutMs ?? 120_000} ms. Raise startTimeoutMs on a slow machine, or read the log below.`,
        );
      }
      await sleep(200);
    }
    const startupMs = Date.now() - t0;
    const level = options.defaultCompatibility ?? 'BACKWARD';
    const res = await fetch(`${url}/config`, {
      method: 'PUT',
      headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
      body: JSON.stringify({ compatibility: level }),
    });
    if (!res.ok)
      throw await failure(
        'REGISTRY_FAILED',
        `could not set the global compatibility level ${level}: HTTP ${res.status} ${await res.text()}`,
      );
    progress(`Apicurio Registry answered after ${startupMs} ms`);
    return new LocalSchemaRegistry({ url, port, logFile, startupMs, child });
  }

  /** Stops the JVM (SIGTERM, then SIGKILL after 15 s) and waits until it is gone. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) {
      release(this.child);
      return;
    }
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
    await gone;
    clearTimeout(timer);
    release(this.child);
  }
}
