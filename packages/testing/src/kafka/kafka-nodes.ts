import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describeClusterVia } from './admin-probe.js';
import { TestingError } from './errors.js';
import { checkJava, runCommand } from './java.js';
import { ensureKafkaJars } from './jars.js';
import { tailFile } from './log-tail.js';
import { nodeProperties, randomClusterId, renderProperties, type NodeAddress } from './node-config.js';
import { KAFKA_LOG4J2_CONFIG } from './paths.js';
import { assertPortFree, freePorts } from './ports.js';
import { guardChild, release } from './process-guard.js';
import { isAlive, isBrokerOf, runsDir, sweepStaleRuns, writeOwner } from './run-state.js';
import {
  checkSecuredOptions,
  clientSecurity,
  createBrokerCertificate,
  scramFormatArgs,
  securedProperties,
  type BrokerSecurity,
  type KafkaClientSecurity,
  type SecuredKafkaOptions,
} from './security.js';
import { warmUp } from './warm-up.js';

/** Fully resolved launcher settings; the public classes fill in the defaults. */
export interface KafkaNodesSettings {
  readonly nodeCount: number;
  readonly replicationFactor: number;
  readonly minInsyncReplicas: number;
  readonly host: string;
  /** Fixed ports per node (index = node id - 1); unset entries are chosen free. */
  readonly fixedPorts: readonly { readonly brokerPort?: number; readonly controllerPort?: number }[];
  readonly stateDir: string;
  readonly cacheDir: string;
  readonly javaPath: string;
  readonly mavenPath: string;
  readonly heapMb: number;
  readonly jvmOptions: readonly string[];
  readonly brokerProperties: Readonly<Record<string, string | number | boolean>>;
  readonly startTimeoutMs: number;
  readonly warmUp: boolean;
  readonly detached: boolean;
  readonly keepData: boolean;
  readonly onProgress: ((message: string) => void) | undefined;
  /** SASL_SSL + ACLs instead of PLAINTEXT; undefined = the plain broker. */
  readonly secured?: SecuredKafkaOptions | undefined;
}

/** One broker+controller node of a launched cluster. */
export interface KafkaNodeInfo {
  readonly nodeId: number;
  /** `host:port` of its client (PLAINTEXT) listener. */
  readonly broker: string;
  readonly controllerPort: number;
  /** JVM pid, or undefined while the node is killed. */
  readonly pid: number | undefined;
  readonly logFile: string;
  readonly dataDir: string;
}

interface NodeRuntime {
  readonly address: NodeAddress;
  readonly dir: string;
  readonly propsFile: string;
  readonly logFile: string;
  child: ChildProcess | undefined;
  pid: number | undefined;
  exited: Promise<number | null> | undefined;
}

const MAX_PORT_ATTEMPTS = 3;
const BIND_FAILURE = /Address already in use|failed to bind/i;

/**
 * The engine behind `LocalKafka` and `LocalKafkaCluster`: N combined broker+controller KRaft nodes
 * with a static quorum on 127.0.0.1, each a JVM with its own data folder and log file.
 */
export class KafkaNodes {
  private stopped = false;

  private readonly settings: KafkaNodesSettings;
  readonly runDir: string;
  readonly clusterId: string;
  private readonly classpath: string;
  private readonly nodes: readonly NodeRuntime[];
  /** Certificates and credentials of a secured cluster; undefined for a plain one. */
  readonly security: BrokerSecurity | undefined;

  private constructor(init: {
    settings: KafkaNodesSettings;
    runDir: string;
    clusterId: string;
    classpath: string;
    nodes: readonly NodeRuntime[];
    security: BrokerSecurity | undefined;
  }) {
    this.settings = init.settings;
    this.security = init.security;
    this.runDir = init.runDir;
    this.clusterId = init.clusterId;
    this.classpath = init.classpath;
    this.nodes = init.nodes;
  }

  static async start(settings: KafkaNodesSettings): Promise<KafkaNodes> {
    const progress = settings.onProgress ?? (() => undefined);
    const [, jars] = await Promise.all([
      checkJava(settings.javaPath),
      ensureKafkaJars({ cacheDir: settings.cacheDir, mavenPath: settings.mavenPath, onProgress: progress }),
    ]);
    const swept = await sweepStaleRuns(settings.stateDir);
    if (swept > 0) progress(`cleaned up ${swept} broker run(s) left behind by dead processes`);
    for (const fixed of settings.fixedPorts) {
      if (fixed.brokerPort !== undefined) await assertPortFree(fixed.brokerPort, settings.host);
      if (fixed.controllerPort !== undefined) await assertPortFree(fixed.controllerPort, settings.host);
    }
    const autoPorts = settings.fixedPorts.every((p) => p.brokerPort === undefined && p.controllerPort === undefined);
    const classpath = join(jars.dir, '*');
    for (let attempt = 1; ; attempt += 1) {
      const nodes = await KafkaNodes.prepare(settings, classpath);
      try {
        await nodes.launch();
        return nodes;
      } catch (error) {
        // A free port can be taken between our probe and the broker's bind (parallel test runs).
        const retry = error instanceof TestingError && error.code === 'PORT_IN_USE' && autoPorts && attempt < MAX_PORT_ATTEMPTS;
        // On a final failure keep the logs the error points at; the stale-run sweep removes them
        // once this process has exited.
        await nodes.stop({ gracePeriodMs: 0, keepData: !retry }).catch(() => undefined);
        if (!retry) throw error;
        progress('a chosen port was taken by another process meanwhile; retrying with fresh ports');
      }
    }
  }

  private static async prepare(settings: KafkaNodesSettings, classpath: string): Promise<KafkaNodes> {
    const runId = `${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}-${randomBytes(3).toString('hex')}`;
    const runDir = join(runsDir(settings.stateDir), runId);
    // Owner first: from now on a sweep by another process knows whom this run belongs to.
    await writeOwner(runDir, {
      ownerPid: process.pid,
      detached: settings.detached,
      createdAt: new Date().toISOString(),
      brokers: [],
      pids: {},
    });
    const ports = await freePorts(settings.nodeCount * 2, settings.host);
    const addresses: NodeAddress[] = [];
    for (let i = 0; i < settings.nodeCount; i += 1) {
      const fixed = settings.fixedPorts[i] ?? {};
      addresses.push({
        nodeId: i + 1,
        brokerPort: fixed.brokerPort ?? (ports[2 * i] as number),
        controllerPort: fixed.controllerPort ?? (ports[2 * i + 1] as number),
      });
    }
    // Checked before any JVM runs: a bad user name would otherwise fail inside kafka-storage.
    const secured = settings.secured === undefined ? undefined : checkSecuredOptions(settings.secured);
    const security =
      secured === undefined ? undefined : await createBrokerCertificate({ dir: runDir, javaPath: settings.javaPath, ...secured });
    const nodes: NodeRuntime[] = [];
    for (const address of addresses) {
      const dir = join(runDir, `node-${address.nodeId}`);
      const dataDir = join(dir, 'data');
      await mkdir(dataDir, { recursive: true });
      const props = nodeProperties({
        node: address,
        voters: addresses,
        host: settings.host,
        logDir: dataDir,
        replicationFactor: settings.replicationFactor,
        minInsyncReplicas: settings.minInsyncReplicas,
        overrides: {
          ...(security ? securedProperties(security, { host: settings.host, ...address }) : {}),
          ...settings.brokerProperties,
        },
      });
      const propsFile = join(dir, 'server.properties');
      await writeFile(propsFile, renderProperties(props));
      nodes.push({ address, dir, propsFile, logFile: join(dir, 'broker.log'), child: undefined, pid: undefined, exited: undefined });
    }
    return new KafkaNodes({ settings, runDir, clusterId: randomClusterId(), classpath, nodes, security });
  }

  /** `host:port` of every node's client listener, killed ones included. */
  get brokers(): string[] {
    return this.nodes.map((n) => this.brokerOf(n));
  }

  get info(): KafkaNodeInfo[] {
    return this.nodes.map((n) => ({
      nodeId: n.address.nodeId,
      broker: this.brokerOf(n),
      controllerPort: n.address.controllerPort,
      pid: n.pid,
      logFile: n.logFile,
      dataDir: join(n.dir, 'data'),
    }));
  }

  /** kafkajs `ssl`/`sasl` for `user` (default: the super user); undefined on a plain cluster. */
  clientSecurity(user?: string): KafkaClientSecurity | undefined {
    return this.security ? clientSecurity(this.security, user) : undefined;
  }

  private brokerOf(node: NodeRuntime): string {
    return `${this.settings.host}:${node.address.brokerPort}`;
  }

  private node(nodeId: number): NodeRuntime {
    const node = this.nodes.find((n) => n.address.nodeId === nodeId);
    if (!node) {
      throw new TestingError(
        'INVALID_OPTIONS',
        `No node ${nodeId}: this cluster has nodes ${this.nodes.map((n) => n.address.nodeId).join(', ')}.`,
      );
    }
    return node;
  }

  private async launch(): Promise<void> {
    const progress = this.settings.onProgress ?? (() => undefined);
    progress(`formatting KRaft storage for ${this.nodes.length} node(s) (cluster id ${this.clusterId})`);
    await Promise.all(this.nodes.map((n) => this.format(n)));
    progress(`starting ${this.nodes.length} broker JVM(s) on ${this.brokers.join(', ')}`);
    for (const node of this.nodes) this.spawnNode(node);
    await this.recordOwner();
    const deadline = Date.now() + this.settings.startTimeoutMs;
    await Promise.all(this.nodes.map((n) => this.waitReady(n, deadline)));
    if (this.settings.warmUp) {
      progress('warming up the transaction and group coordinators');
      await this.raceWithExit(warmUp(this.brokers, this.settings.replicationFactor, this.clientSecurity()), deadline);
    }
    progress(`Kafka ready on ${this.brokers.join(',')}`);
  }

  private async format(node: NodeRuntime): Promise<void> {
    const result = await runCommand(this.settings.javaPath, [
      '-Xmx256m',
      // A one-shot tool: C1 only and the serial GC start it faster; throughput does not matter.
      '-XX:TieredStopAtLevel=1',
      '-XX:+UseSerialGC',
      `-Dlog4j2.configurationFile=${KAFKA_LOG4J2_CONFIG}`,
      '-cp',
      this.classpath,
      'kafka.tools.StorageTool',
      'format',
      '-t',
      this.clusterId,
      '-c',
      node.propsFile,
      ...(this.security ? scramFormatArgs(this.security) : []),
    ]);
    if (result.code !== 0) {
      const output = `${result.stdout}\n${result.stderr}`.trim().split('\n').slice(-30).join('\n');
      throw new TestingError(
        'BROKER_FAILED',
        `Formatting the KRaft storage of node ${node.address.nodeId} failed (exit ${String(result.code)}). ` +
          `Config: ${node.propsFile}.\n--- kafka-storage output (tail) ---\n${output}`,
      );
    }
  }

  private spawnNode(node: NodeRuntime): void {
    const fd = openSync(node.logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(
        this.settings.javaPath,
        [
          `-Xmx${this.settings.heapMb}m`,
          `-Xms${Math.min(128, this.settings.heapMb)}m`,
          ...this.settings.jvmOptions,
          '-XX:+ExitOnOutOfMemoryError',
          '-Djava.awt.headless=true',
          `-Dlog4j2.configurationFile=${KAFKA_LOG4J2_CONFIG}`,
          '-cp',
          this.classpath,
          'kafka.Kafka',
          node.propsFile,
        ],
        { stdio: ['ignore', fd, fd], detached: this.settings.detached },
      );
    } finally {
      closeSync(fd);
    }
    node.child = child;
    node.pid = child.pid;
    node.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => resolve(code ?? (signal ? -1 : null)));
      child.once('error', () => resolve(-1));
    });
    if (this.settings.detached) child.unref();
    else guardChild(child);
  }

  private async recordOwner(): Promise<void> {
    const pids: Record<string, number> = {};
    for (const n of this.nodes) if (n.pid !== undefined) pids[String(n.address.nodeId)] = n.pid;
    await writeOwner(this.runDir, {
      ownerPid: process.pid,
      detached: this.settings.detached,
      createdAt: new Date().toISOString(),
      brokers: this.brokers,
      pids,
    });
  }

  /** Ready = this node answers describeCluster and sees every node that should be up. */
  private async waitReady(node: NodeRuntime, deadline: number): Promise<void> {
    const expected = this.nodes.filter((n) => n.child !== undefined).map((n) => n.address.nodeId);
    const broker = this.brokerOf(node);
    let exitCode: number | null | undefined;
    void node.exited?.then((code) => {
      exitCode = code;
    });
    for (;;) {
      if (exitCode !== undefined) throw await this.failure(node, `exited with code ${String(exitCode)} while starting`);
      const seen = await describeClusterVia(broker, this.clientSecurity());
      if (seen && expected.every((id) => seen.includes(id))) return;
      if (Date.now() > deadline) {
        throw await this.failure(node, `did not become ready within ${this.settings.startTimeoutMs} ms`, 'START_TIMEOUT');
      }
      await sleep(250);
    }
  }

  private async raceWithExit<T>(work: Promise<T>, deadline: number): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => {
          void this.failure(this.nodes[0] as NodeRuntime, 'did not finish the coordinator warm-up in time', 'START_TIMEOUT').then(reject);
        },
        Math.max(1_000, deadline - Date.now()),
      );
    });
    const exits = this.nodes.map(async (n) => {
      const code = await (n.exited ?? new Promise<never>(() => undefined));
      throw await this.failure(n, `exited with code ${String(code)} during warm-up`);
    });
    try {
      return await Promise.race([work, timeout, ...exits]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async failure(node: NodeRuntime, what: string, code: 'BROKER_FAILED' | 'START_TIMEOUT' = 'BROKER_FAILED'): Promise<TestingError> {
    const tail = await tailFile(node.logFile, 30);
    const bindFailure = BIND_FAILURE.test(tail);
    const message =
      `Kafka node ${node.address.nodeId} (${this.brokerOf(node)}) ${what}. ` +
      (bindFailure
        ? 'Its port was taken by another process. '
        : code === 'START_TIMEOUT'
          ? 'The machine may be overloaded; raise startTimeoutMs or check the log. '
          : 'See the log below. ') +
      `Log: ${node.logFile}\n--- broker log (last 30 lines) ---\n${tail || '(empty)'}`;
    return new TestingError(bindFailure ? 'PORT_IN_USE' : code, message);
  }

  /** SIGKILLs one node (no clean shutdown) and waits until its JVM is gone. */
  async kill(nodeId: number): Promise<void> {
    const node = this.node(nodeId);
    await this.terminate(node, 'SIGKILL', 0);
    await this.recordOwner();
  }

  /** Starts a killed node again on the same ports and data folder (no re-format); waits until it serves. */
  async restart(nodeId: number, timeoutMs: number = this.settings.startTimeoutMs): Promise<void> {
    const node = this.node(nodeId);
    if (node.child) throw new TestingError('INVALID_OPTIONS', `Node ${nodeId} is running; kill(${nodeId}) it before restart(${nodeId}).`);
    this.spawnNode(node);
    await this.recordOwner();
    await this.waitReady(node, Date.now() + timeoutMs);
  }

  /**
   * Stops every node and waits until the JVMs are gone: SIGTERM, then SIGKILL after
   * `gracePeriodMs`. Deletes the run folder unless `keepData`.
   */
  async stop(options: { gracePeriodMs?: number; keepData?: boolean } = {}): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const grace = options.gracePeriodMs ?? 5_000;
    await Promise.all(this.nodes.map((n) => this.terminate(n, grace > 0 ? 'SIGTERM' : 'SIGKILL', grace)));
    if (!(options.keepData ?? this.settings.keepData)) await rm(this.runDir, { recursive: true, force: true });
  }

  private async terminate(node: NodeRuntime, signal: NodeJS.Signals, graceMs: number): Promise<void> {
    const { child, exited } = node;
    if (!child || !exited) return;
    const gone = await new Promise<boolean>((resolve) => {
      void exited.then(() => resolve(true));
      if (child.exitCode !== null || child.signalCode !== null) return resolve(true);
      child.kill(signal);
      if (signal !== 'SIGKILL') setTimeout(() => resolve(false), graceMs).unref();
    });
    if (!gone) {
      child.kill('SIGKILL');
      await exited;
    }
    release(child);
    node.child = undefined;
    node.pid = undefined;
    node.exited = undefined;
  }
}

/** For processes this one did not start (the CLI's `stop`): signal, then poll until gone. */
export async function killPid(pid: number, runDir: string, graceMs = 10_000): Promise<void> {
  if (!isBrokerOf(pid, runDir)) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await sleep(100);
  if (isAlive(pid)) {
    process.kill(pid, 'SIGKILL');
    while (isAlive(pid)) await sleep(50);
  }
}
