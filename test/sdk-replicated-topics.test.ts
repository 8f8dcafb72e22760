// Issue 10 item 6: the topics Troupe creates take the cluster's replication (ADR 0012), so a
// 3-broker cluster keeps running sagas when one broker dies; replication 1 on such a cluster is
// warned about at start-up.
import { Writable } from 'node:stream';
import { headerString } from '@troupe/core';
import { readTopicToEnd } from '@troupe/kafka';
import { MemorySchemaRegistry } from '@troupe/schema-registry';
import { KafkaTransport, Publisher, type Participant } from '@troupe/sdk';
import { LocalKafkaCluster, createTopics, uniqueName, uniqueTopic, waitFor } from '@troupe/testing';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newLedger, orderSaga, registerAll, startSagaServices } from '../packages/sdk/src/participant/order-saga.fixture.js';
import { silentLogger } from './fixtures/sdk-kafka.js';

/** A pino logger that keeps its lines, to assert on warnings. */
function capturingLogger(): { logger: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { logger: pino({ level: 'warn' }, sink), lines };
}

// One 3-node cluster for the file (three JVMs): the checks that need all three nodes run first,
// the broker loss last.
describe('topics Troupe creates on a 3-broker cluster', () => {
  let cluster: LocalKafkaCluster;
  let transport: KafkaTransport;
  const participants: Participant[] = [];

  beforeAll(async () => {
    cluster = await LocalKafkaCluster.start({ brokers: 3 });
    transport = await KafkaTransport.create({ brokers: cluster.brokers, redeliveryDelayMs: 50, logger: silentLogger });
  });

  afterAll(async () => {
    await Promise.all(participants.map((p) => p.close()));
    await transport?.close();
    await cluster?.stop();
  });

  const replicasAndMinIsr = async (
    topics: readonly string[],
  ): Promise<Record<string, { replicas: number[]; minIsr: string | undefined }>> => {
    const admin = transport.adminClient;
    const meta = await admin.fetchTopicMetadata({ topics: [...topics] });
    const configs = await admin.describeConfigs({
      includeSynonyms: false,
      resources: topics.map((name) => ({ type: 2, name, configNames: ['min.insync.replicas'] })),
    });
    const out: Record<string, { replicas: number[]; minIsr: string | undefined }> = {};
    for (const t of meta.topics) {
      const minIsr = configs.resources.find((r) => r.resourceName === t.name)?.configEntries[0]?.configValue;
      out[t.name] = { replicas: [...new Set(t.partitions.map((p) => p.replicas.length))], minIsr };
    }
    return out;
  };

  it('creates saga and dead-letter topics with the broker default: replication 3, min.insync.replicas 2', async () => {
    const saga = orderSaga(uniqueName('rf-default'));
    const codec = new MemorySchemaRegistry();
    await registerAll(codec, saga);
    participants.push(...(await startSagaServices({ transport, codec, saga, ledger: newLedger(), logger: silentLogger })));
    const topics = [...new Set(saga.all.map((e) => e.topic))];
    const dlqs = [saga.events.OrderPlaced.topic, saga.events.PaymentCharged.topic, saga.events.InventoryReserved.topic].map(
      (t) => `${t}.dlq`,
    );
    const found = await replicasAndMinIsr([...topics, ...dlqs]);
    expect(Object.keys(found).sort()).toEqual([...topics, ...dlqs].sort());
    for (const t of Object.values(found)) expect(t).toEqual({ replicas: [3], minIsr: '2' });
  });

  it('sets min.insync.replicas to replicationFactor - 1 when the replication factor is given', async () => {
    const topic = uniqueTopic('rf-explicit');
    await transport.ensureTopics([{ topic, partitions: 2, replicationFactor: 2 }]);
    expect(await replicasAndMinIsr([topic])).toEqual({ [topic]: { replicas: [2], minIsr: '1' } });
  });

  it('warns loudly at start-up when a topic has replication 1 on a cluster of more than one broker', async () => {
    const saga = orderSaga(uniqueName('rf-one'));
    await createTopics([{ topic: saga.events.OrderPlaced.topic, partitions: 3, replicationFactor: 1 }], cluster.brokers);
    const { logger, lines } = capturingLogger();
    const own = await KafkaTransport.create({ brokers: cluster.brokers, logger });
    try {
      const publisher = await Publisher.create({
        transport: own,
        codec: new MemorySchemaRegistry(),
        source: 'order-service',
        contracts: [saga.contract],
      });
      await publisher.publish(saga.events.OrderPlaced, { orderId: 'o-1', amount: 1 }, { sagaId: 'o-1' });
    } finally {
      await own.close();
    }
    const warnings = lines.filter((l) => l.includes('REPLICATION FACTOR 1'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('3-broker cluster');
    expect(warnings[0]).toContain(saga.events.OrderPlaced.topic);
  });

  it('keeps running sagas to completion after one broker is killed, while an unrelated topic is left without a leader', async () => {
    const saga = orderSaga(uniqueName('rf-loss'));
    const codec = new MemorySchemaRegistry();
    await registerAll(codec, saga);
    participants.push(
      ...(await startSagaServices({ transport, codec, saga, ledger: newLedger(), logger: silentLogger, groupSuffix: 'loss' })),
    );
    const publisher = await Publisher.create({ transport, codec, source: 'order-service', contracts: [saga.contract] });
    const ids = Array.from({ length: 10 }, (_, i) => `loss-${i}`);
    const shipped = async (): Promise<Set<string>> => {
      const records = await readTopicToEnd(transport.kafka, saga.events.ShipmentScheduled.topic);
      const byId = new Map<string, string>();
      for (const r of records) {
        if (headerString(r.headers, 'ce_type') !== saga.events.ShipmentScheduled.name) continue;
        byId.set(headerString(r.headers, 'ce_id') ?? '', headerString(r.headers, 'ce_sagaid') ?? '');
      }
      return new Set(byId.values());
    };
    for (const id of ids.slice(0, 5)) await publisher.publish(saga.events.OrderPlaced, { orderId: id, amount: 1 }, { sagaId: id });
    await waitFor(async () => (await shipped()).size === 5, { timeoutMs: 120_000, description: 'the first 5 sagas to ship' });

    // Someone else's topic with its only replica on the broker about to die: once it is down that
    // partition has no leader, and kafkajs fails any metadata answer that includes it.
    const unrelated = uniqueTopic('rf-unrelated');
    await transport.adminClient.createTopics({ topics: [{ topic: unrelated, replicaAssignment: [{ partition: 0, replicas: [2] }] }] });
    await cluster.kill(2);
    // The controller takes the dead broker's partitions away once its session expires.
    await waitFor(
      () =>
        transport.adminClient.fetchTopicMetadata({ topics: [unrelated] }).then(
          () => false,
          (err: unknown) => /leader/i.test(String(err)),
        ),
      { timeoutMs: 60_000, description: `the unrelated topic ${unrelated} to be left without a leader` },
    );
    for (const id of ids.slice(5)) await publisher.publish(saga.events.OrderPlaced, { orderId: id, amount: 1 }, { sagaId: id });
    await waitFor(async () => (await shipped()).size === 10, {
      timeoutMs: 240_000,
      description: 'the 5 sagas started after the broker loss to ship too',
    });
    const records = await readTopicToEnd(transport.kafka, saga.events.ShipmentScheduled.topic);
    const perSaga = new Map<string, Set<string>>();
    for (const r of records) {
      if (headerString(r.headers, 'ce_type') !== saga.events.ShipmentScheduled.name) continue;
      const sagaId = headerString(r.headers, 'ce_sagaid') ?? '';
      perSaga.set(sagaId, (perSaga.get(sagaId) ?? new Set()).add(headerString(r.headers, 'ce_id') ?? ''));
    }
    expect([...perSaga.keys()].sort()).toEqual([...ids].sort());
    // One shipment per saga (by ce_id among committed records), broker loss or not.
    expect([...perSaga.values()].map((s) => s.size)).toEqual(ids.map(() => 1));
  }, 300_000);
});
