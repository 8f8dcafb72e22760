import { randomBytes } from 'node:crypto';

/** A fresh KRaft cluster id: 16 random bytes in unpadded base64url, like `kafka-storage random-uuid`. */
export function randomClusterId(): string {
  const bytes = randomBytes(16);
  // Top bit clear: the first character is then A-Z or a-f, never '-', which kafka-storage's
  // argument parser would take for an option. Low bit set: never Kafka's reserved all-zero uuid.
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x01;
  return bytes.toString('base64url');
}

export interface NodeAddress {
  readonly nodeId: number;
  readonly brokerPort: number;
  readonly controllerPort: number;
}

export interface NodeConfigInput {
  readonly node: NodeAddress;
  /** Every voter of the quorum, this node included. */
  readonly voters: readonly NodeAddress[];
  readonly host: string;
  readonly logDir: string;
  /** Replication factor of internal topics and the default for new topics. */
  readonly replicationFactor: number;
  readonly minInsyncReplicas: number;
  /** Extra broker properties; they win over the computed ones. */
  readonly overrides?: Readonly<Record<string, string | number | boolean>>;
}

/** `server.properties` for a combined broker+controller KRaft node with a static quorum. */
export function nodeProperties(input: NodeConfigInput): Record<string, string> {
  const { node, host } = input;
  const rf = String(input.replicationFactor);
  const isr = String(input.minInsyncReplicas);
  const props: Record<string, string> = {
    'process.roles': 'broker,controller',
    'node.id': String(node.nodeId),
    'controller.quorum.voters': input.voters.map((v) => `${v.nodeId}@${host}:${v.controllerPort}`).join(','),
    listeners: `PLAINTEXT://${host}:${node.brokerPort},CONTROLLER://${host}:${node.controllerPort}`,
    'advertised.listeners': `PLAINTEXT://${host}:${node.brokerPort}`,
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'log.dirs': input.logDir,
    'num.partitions': '1',
    'default.replication.factor': rf,
    'min.insync.replicas': isr,
    'offsets.topic.replication.factor': rf,
    'transaction.state.log.replication.factor': rf,
    'transaction.state.log.min.isr': isr,
    // Fewer internal partitions: a test broker has few groups and producers, and 50+50 partitions
    // make the first group join and the first transaction wait for all of them to load.
    'offsets.topic.num.partitions': '8',
    'transaction.state.log.num.partitions': '8',
    // Tests join groups constantly; the default 3 s delay would slow every one of them.
    'group.initial.rebalance.delay.ms': '0',
    // A killed node must be noticed quickly in fault tests.
    'broker.session.timeout.ms': '6000',
    'broker.heartbeat.interval.ms': '1000',
  };
  for (const [key, value] of Object.entries(input.overrides ?? {})) props[key] = String(value);
  return props;
}

/** Serialises properties in Java `.properties` syntax (values here never need escaping). */
export function renderProperties(props: Readonly<Record<string, string>>): string {
  return (
    Object.entries(props)
      .map(([key, value]) => `${key}=${value.replace(/\\/g, '\\\\')}`)
      .join('\n') + '\n'
  );
}
