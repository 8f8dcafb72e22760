import { describe, expect, it } from 'vitest';
import { nodeProperties, randomClusterId, renderProperties } from './node-config.js';

describe('randomClusterId', () => {
  it('is 16 bytes of unpadded base64url and fresh each time', () => {
    const id = randomClusterId();
    expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(Buffer.from(id, 'base64url')).toHaveLength(16);
    expect(randomClusterId()).not.toBe(id);
  });

  it('never starts with a dash (kafka-storage would read it as an option)', () => {
    for (let i = 0; i < 2_000; i += 1) expect(randomClusterId()[0]).toMatch(/[A-Za-f]/);
  });
});

describe('nodeProperties', () => {
  const voters = [
    { nodeId: 1, brokerPort: 9001, controllerPort: 9101 },
    { nodeId: 2, brokerPort: 9002, controllerPort: 9102 },
    { nodeId: 3, brokerPort: 9003, controllerPort: 9103 },
  ];

  it('describes a combined node in a static quorum', () => {
    const props = nodeProperties({
      node: voters[1]!,
      voters,
      host: '127.0.0.1',
      logDir: '/tmp/x',
      replicationFactor: 3,
      minInsyncReplicas: 2,
    });
    expect(props).toMatchObject({
      'process.roles': 'broker,controller',
      'node.id': '2',
      'controller.quorum.voters': '1@127.0.0.1:9101,2@127.0.0.1:9102,3@127.0.0.1:9103',
      listeners: 'PLAINTEXT://127.0.0.1:9002,CONTROLLER://127.0.0.1:9102',
      'advertised.listeners': 'PLAINTEXT://127.0.0.1:9002',
      'default.replication.factor': '3',
      'min.insync.replicas': '2',
      'offsets.topic.replication.factor': '3',
      'transaction.state.log.min.isr': '2',
      'group.initial.rebalance.delay.ms': '0',
    });
  });

  it('lets overrides win', () => {
    const props = nodeProperties({
      node: voters[0]!,
      voters: [voters[0]!],
      host: '127.0.0.1',
      logDir: '/tmp/x',
      replicationFactor: 1,
      minInsyncReplicas: 1,
      overrides: { 'num.partitions': 3, 'auto.create.topics.enable': false },
    });
    expect(props['num.partitions']).toBe('3');
    expect(props['auto.create.topics.enable']).toBe('false');
  });
});

describe('renderProperties', () => {
  it('writes key=value lines and escapes backslashes', () => {
    expect(renderProperties({ a: '1', 'log.dirs': 'C:\\data' })).toBe('a=1\nlog.dirs=C:\\\\data\n');
  });
});
