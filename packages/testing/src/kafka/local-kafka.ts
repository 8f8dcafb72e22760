import { KafkaNodes, type KafkaNodeInfo, type KafkaNodesSettings } from './kafka-nodes.js';
import { TestingError } from './errors.js';
import { defaultJavaPath } from './java.js';
import { defaultCacheDir, defaultStateDir } from './paths.js';
import type { KafkaClientSecurity, SecuredKafkaOptions } from './security.js';

/** Options shared by `LocalKafka.start` and `LocalKafkaCluster.start`. */
export interface LocalKafkaCommonOptions {
  /** Folder for run data, logs and pid files. @default `$TROUPE_STATE_DIR/kafka` or `<cwd>/.troupe/kafka` */
  readonly stateDir?: string;
  /** Jar cache. @default `$TROUPE_CACHE_DIR` or `~/.cache/troupe` */
  readonly cacheDir?: string;
  /** @default `$JAVA_HOME/bin/java`, else `java` on PATH */
  readonly javaPath?: string;
  /** @default 'mvn' */
  readonly mavenPath?: string;
  /** JVM heap per node in MiB. @default 512 (single node), 384 (cluster nodes) */
  readonly heapMb?: number;
  /**
   * JVM flags per node. The default suits short test runs on small machines: the serial GC for a
   * small heap, and C1 only, which made the broker ready ~40% sooner on a loaded 2-core machine
   * (it costs peak throughput; pass `[]` for a long-running or benchmarked broker).
   * @default ['-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1']
   */
  readonly jvmOptions?: readonly string[];
  /** Extra `server.properties` entries; they override the launcher's. @default {} */
  readonly brokerProperties?: Readonly<Record<string, string | number | boolean>>;
  /** Give up when the broker does not answer within this time. @default 90_000 */
  readonly startTimeoutMs?: number;
  /** Run one transaction and one group commit before declaring the broker ready. @default true */
  readonly warmUp?: boolean;
  /** Let the JVMs outlive this process (the CLI's `start`). @default false */
  readonly detached?: boolean;
  /** Keep data and logs after `stop()`. @default false */
  readonly keepData?: boolean;
  /** Human-readable progress lines. @default none */
  readonly onProgress?: (message: string) => void;
}

export interface LocalKafkaOptions extends LocalKafkaCommonOptions {
  /** Client listener port. @default a free port */
  readonly port?: number;
  /** KRaft controller listener port. @default a free port */
  readonly controllerPort?: number;
  /**
   * Start a secured broker instead: a SASL_SSL listener (SCRAM-SHA-512, a certificate made at
   * start), KRaft's StandardAuthorizer with ACLs enforced (nothing allowed without one) and a
   * super user. `true` = no users besides the super user. Costs two keytool runs (about a second).
   * @default undefined (a PLAINTEXT broker without authorisation)
   */
  readonly secured?: SecuredKafkaOptions | true;
}

/** What a kafkajs client (or `KafkaTransport.create`) needs to reach a local broker as one principal. */
export interface LocalKafkaConnection {
  readonly brokers: string[];
  /** Present on a secured broker: trust its self-signed certificate. */
  readonly ssl?: KafkaClientSecurity['ssl'];
  /** Present on a secured broker: SCRAM-SHA-512 credentials. */
  readonly sasl?: KafkaClientSecurity['sasl'];
}

export function positiveInt(name: string, value: number | undefined, fallback: number): number {
  const result = value ?? fallback;
  if (!Number.isInteger(result) || result <= 0) {
    throw new TestingError('INVALID_OPTIONS', `${name} must be a positive integer, got ${String(value)}.`);
  }
  return result;
}

function port(name: string, value: number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || value < 1 || value > 65_535) {
    throw new TestingError('INVALID_OPTIONS', `${name} must be a TCP port (1-65535), got ${String(value)}; leave it unset for a free one.`);
  }
  return value;
}

export function commonSettings(
  options: LocalKafkaCommonOptions,
  shape: { nodeCount: number; replicationFactor: number; minInsyncReplicas: number; defaultHeapMb: number },
): Omit<KafkaNodesSettings, 'fixedPorts'> {
  return {
    ...shape,
    host: '127.0.0.1',
    stateDir: options.stateDir ?? defaultStateDir(),
    cacheDir: options.cacheDir ?? defaultCacheDir(),
    javaPath: options.javaPath ?? defaultJavaPath(),
    mavenPath: options.mavenPath ?? 'mvn',
    heapMb: positiveInt('heapMb', options.heapMb, shape.defaultHeapMb),
    jvmOptions: options.jvmOptions ?? ['-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1'],
    brokerProperties: options.brokerProperties ?? {},
    startTimeoutMs: positiveInt('startTimeoutMs', options.startTimeoutMs, 90_000),
    warmUp: options.warmUp ?? true,
    detached: options.detached ?? false,
    keepData: options.keepData ?? false,
    onProgress: options.onProgress,
  };
}

/**
 * A real single-node Apache Kafka broker (KRaft, combined broker+controller) in a JVM on
 * 127.0.0.1, with a fresh cluster id and data folder. No Docker: the jars come from Maven Central.
 *
 * ```ts
 * const kafka = await LocalKafka.start();
 * // new Kafka({ brokers: kafka.brokers })
 * await kafka.stop();
 * ```
 */
export class LocalKafka {
  private constructor(private readonly nodes: KafkaNodes) {}

  static async start(options: LocalKafkaOptions = {}): Promise<LocalKafka> {
    const settings: KafkaNodesSettings = {
      ...commonSettings(options, { nodeCount: 1, replicationFactor: 1, minInsyncReplicas: 1, defaultHeapMb: 512 }),
      fixedPorts: [{ brokerPort: port('port', options.port), controllerPort: port('controllerPort', options.controllerPort) }],
      secured: options.secured === true ? {} : options.secured,
    };
    return new LocalKafka(await KafkaNodes.start(settings));
  }

  /** Bootstrap servers for clients: `['127.0.0.1:<port>']`. */
  get brokers(): string[] {
    return this.nodes.brokers;
  }

  /** Whether this broker was started with `secured`. */
  get secured(): boolean {
    return this.nodes.security !== undefined;
  }

  /**
   * Client settings for `user` (default: the super user, who may do anything). On a plain
   * broker only `brokers`; asking for a user there is an error.
   */
  connection(user?: string): LocalKafkaConnection {
    const security = this.nodes.clientSecurity(user);
    if (!security) {
      if (user !== undefined)
        throw new TestingError('INVALID_OPTIONS', `connection(${user}): this broker is not secured; start it with { secured: { users } }.`);
      return { brokers: this.brokers };
    }
    return { brokers: this.brokers, ...security };
  }

  /** PEM file of the secured broker's certificate (for CLIs' `KAFKA_SSL_CA_FILE`); undefined when plain. */
  get caFile(): string | undefined {
    return this.nodes.security?.caFile;
  }

  /** The broker's log (warnings and errors). */
  get logFile(): string {
    return (this.nodes.info[0] as KafkaNodeInfo).logFile;
  }

  /** JVM pid, or undefined after `stop()`. */
  get pid(): number | undefined {
    return this.nodes.info[0]?.pid;
  }

  get clusterId(): string {
    return this.nodes.clusterId;
  }

  /** The run folder: config, data and log of this broker. */
  get runDir(): string {
    return this.nodes.runDir;
  }

  /** Stops the broker and waits until its JVM is gone; idempotent. */
  async stop(): Promise<void> {
    await this.nodes.stop();
  }
}
