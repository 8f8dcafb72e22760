import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, Partitioners, logLevel, type Admin, type Producer } from 'kafkajs';
import { LocalKafkaCluster, createTopics, uniqueGroup, uniqueTopic, waitFor } from '@troupe/testing';

// One 3-node cluster for this file: starting one costs three JVMs.
describe('a 3-node local KRaft cluster survives losing one node', () => {
  let cluster: LocalKafkaCluster;
  let kafka: Kafka;
  let admin: Admin;
  let producer: Producer;

  beforeAll(async () => {
    // No coordinator warm-up: this file uses neither transactions nor the first group join's timing.
    cluster = await LocalKafkaCluster.start({ brokers: 3, warmUp: false });
    kafka = new Kafka({ clientId: 'cluster-test', brokers: cluster.brokers, logLevel: logLevel.NOTHING });
    admin = kafka.admin();
    await admin.connect();
    // Enough retries to ride out the session timeout and leader election after a SIGKILL.
    producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, retry: { retries: 12 } });
    await producer.connect();
  });

  afterAll(async () => {
    await producer?.disconnect();
    await admin?.disconnect();
    await cluster?.stop();
  });

  const brokerIds = async (): Promise<number[]> => (await admin.describeCluster()).brokers.map((b) => b.nodeId).sort();
  const isrs = async (topic: string): Promise<number[][]> => {
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
    return (topics[0]?.partitions ?? []).map((p) => [...p.isr].sort());
  };
  const metaProperties = (nodeId: number): Promise<string> => {
    const node = cluster.nodeInfo.find((n) => n.nodeId === nodeId);
    return readFile(join(node?.dataDir ?? '', 'meta.properties'), 'utf8');
  };

  it('starts with replication factor 3 and min.insync.replicas 2 by default', async () => {
    expect(await brokerIds()).toEqual([1, 2, 3]);
    const topic = uniqueTopic('cluster-defaults');
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    expect(await isrs(topic)).toEqual([[1, 2, 3]]);
    const configs = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: 2, name: topic, configNames: ['min.insync.replicas'] }],
    });
    expect(configs.resources[0]?.configEntries.find((e) => e.configName === 'min.insync.replicas')?.configValue).toBe('2');
  });

  it('keeps acknowledging acks=-1 writes after a SIGKILL and takes the node back without re-formatting', async () => {
    const topic = uniqueTopic('cluster-fault');
    await createTopics([{ topic, partitions: 3, replicationFactor: 3 }], cluster.brokers);
    const keys = Array.from({ length: 30 }, (_, i) => `saga-${i}`);
    const send = (phase: string) => producer.send({ topic, acks: -1, messages: keys.map((key) => ({ key, value: `${phase}:${key}` })) });
    await send('before');

    const metaBefore = await metaProperties(2);
    const pidBefore = cluster.nodeInfo.find((n) => n.nodeId === 2)?.pid;
    await cluster.kill(2);
    expect(cluster.nodeInfo.find((n) => n.nodeId === 2)?.pid).toBeUndefined();

    await waitFor(async () => (await brokerIds()).join() === '1,3', { timeoutMs: 60_000, description: 'node 2 to be fenced' });
    await waitFor(async () => (await isrs(topic)).every((isr) => isr.join() === '1,3'), {
      timeoutMs: 60_000,
      description: 'the ISR to shrink to the two live nodes',
    });
    // Two in-sync replicas are left, which is exactly min.insync.replicas: acks=-1 writes succeed.
    const acked = await send('during');
    expect(acked.length).toBeGreaterThan(0);
    expect(acked.every((r) => r.errorCode === 0)).toBe(true);

    await cluster.restart(2);
    const pidAfter = cluster.nodeInfo.find((n) => n.nodeId === 2)?.pid;
    expect(pidAfter).toBeDefined();
    expect(pidAfter).not.toBe(pidBefore);
    // Same storage: meta.properties (cluster id, directory id) untouched, so no re-format happened.
    expect(await metaProperties(2)).toBe(metaBefore);
    await waitFor(async () => (await brokerIds()).join() === '1,2,3', { timeoutMs: 60_000, description: 'node 2 back in describeCluster' });
    await waitFor(async () => (await isrs(topic)).every((isr) => isr.join() === '1,2,3'), {
      timeoutMs: 60_000,
      description: 'node 2 to catch up and rejoin every ISR',
    });
    await send('after');

    const seen = new Set<string>();
    const consumer = kafka.consumer({ groupId: uniqueGroup('cluster-fault'), maxWaitTimeInMs: 250 });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        eachMessage: ({ message }) => {
          seen.add(message.value?.toString() ?? '');
          return Promise.resolve();
        },
      });
      await waitFor(() => seen.size >= keys.length * 3, { timeoutMs: 60_000, description: 'every acknowledged message' });
    } finally {
      await consumer.disconnect();
    }
    const expected = ['before', 'during', 'after'].flatMap((phase) => keys.map((key) => `${phase}:${key}`));
    expect([...seen].sort()).toEqual(expected.sort());
  });
});
