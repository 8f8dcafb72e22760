import { randomUUID } from 'node:crypto';
import { Partitioners } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { partitionForKey } from './murmur2.js';

describe('partitionForKey', () => {
  it('picks the same partition as kafkajs DefaultPartitioner for every key length', () => {
    const kafkajs = Partitioners.DefaultPartitioner();
    const keys = ['', 'a', 'ab', 'abc', 'abcd', 'order-4711', 'Ünïcødé-sagä', ...Array.from({ length: 200 }, () => randomUUID())];
    for (const partitions of [1, 3, 7, 12]) {
      const metadata = Array.from({ length: partitions }, (_, i) => ({
        partitionId: i,
        leader: 0,
        replicas: [0],
        isr: [0],
        partitionErrorCode: 0,
      }));
      for (const key of keys) {
        const expected = kafkajs({ topic: 't', partitionMetadata: metadata, message: { key, value: null } });
        expect(partitionForKey(key, partitions), `key '${key}' over ${partitions}`).toBe(expected);
      }
    }
  });
});
