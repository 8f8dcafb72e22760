import { Kafka, logLevel } from 'kafkajs';
import type { KafkaClientSecurity } from './security.js';

/**
 * Asks the broker at `broker` (and only it) which brokers the cluster has. Resolves the node ids,
 * or undefined when it does not answer yet. No retries here: the caller polls.
 */
export async function describeClusterVia(broker: string, security?: KafkaClientSecurity): Promise<readonly number[] | undefined> {
  const kafka = new Kafka({
    ...security,
    clientId: 'troupe-launcher-probe',
    brokers: [broker],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1_000,
    requestTimeout: 3_000,
    retry: { retries: 0 },
  });
  const admin = kafka.admin({ retry: { retries: 0 } });
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return cluster.brokers.map((b) => b.nodeId);
  } catch {
    return undefined;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
