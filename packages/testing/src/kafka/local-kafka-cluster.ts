import { KafkaNodes, type KafkaNodeInfo } from './kafka-nodes.js';
import { TestingError } from './errors.js';
import { commonSettings, positiveInt, type LocalKafkaCommonOptions } from './local-kafka.js';

export interface LocalKafkaClusterOptions extends LocalKafkaCommonOptions {
  /** Number of nodes, each a combined broker+controller (KRaft voter). @default 3 */
  readonly brokers?: number;
  /** Replication factor of internal topics and new topics. @default min(3, brokers) */
  readonly replicationFactor?: number;
  /** @default replicationFactor - 1 (at least 1): acks=all survives losing one replica */
  readonly minInsyncReplicas?: number;
}

/**
 * A real multi-node Apache Kafka cluster (KRaft, every node broker+controller) on 127.0.0.1 for
 * fault tests: SIGKILL a node with `kill(nodeId)`, bring it back on the same data with
 * `restart(nodeId)`. Node ids are 1..brokers.
 */
export class LocalKafkaCluster {
  private constructor(private readonly nodes: KafkaNodes) {}

  static async start(options: LocalKafkaClusterOptions = {}): Promise<LocalKafkaCluster> {
    const nodeCount = positiveInt('brokers', options.brokers, 3);
    const replicationFactor = positiveInt('replicationFactor', options.replicationFactor, Math.min(3, nodeCount));
    const minInsyncReplicas = positiveInt('minInsyncReplicas', options.minInsyncReplicas, Math.max(1, replicationFactor - 1));
    if (replicationFactor > nodeCount) {
      throw new TestingError(
        'INVALID_OPTIONS',
        `replicationFactor ${replicationFactor} exceeds the ${nodeCount} brokers; lower it or add brokers.`,
      );
    }
    if (minInsyncReplicas > replicationFactor) {
      throw new TestingError(
        'INVALID_OPTIONS',
        `minInsyncReplicas ${minInsyncReplicas} exceeds replicationFactor ${replicationFactor}: no write could ever succeed.`,
      );
    }
    const settings = commonSettings(options, { nodeCount, replicationFactor, minInsyncReplicas, defaultHeapMb: 384 });
    return new LocalKafkaCluster(await KafkaNodes.start({ ...settings, fixedPorts: [] }));
  }

  /** Bootstrap servers of every node (killed ones included; clients skip those). */
  get brokers(): string[] {
    return this.nodes.brokers;
  }

  /** Per-node ports, pids and log files. */
  get nodeInfo(): KafkaNodeInfo[] {
    return this.nodes.info;
  }

  get clusterId(): string {
    return this.nodes.clusterId;
  }

  /** SIGKILLs a node's JVM (no clean shutdown) and waits until it is gone. */
  async kill(nodeId: number): Promise<void> {
    await this.nodes.kill(nodeId);
  }

  /**
   * Starts a killed node again with its old data folder (no re-format) and waits until it serves
   * and sees the other running nodes.
   */
  async restart(nodeId: number): Promise<void> {
    await this.nodes.restart(nodeId);
  }

  /**
   * Stops every node and deletes the data. Nodes are SIGKILLed: a controlled shutdown of a
   * whole quorum at once only waits for controllers that are going away too.
   */
  async stop(): Promise<void> {
    await this.nodes.stop({ gracePeriodMs: 0 });
  }
}
