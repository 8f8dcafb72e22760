import { describe, expect, it } from 'vitest';
import { TestingError } from './errors.js';
import { parseKafkaMode, selectKafkaBackend, type SelectionProbes } from './selection.js';

function probes(java: boolean, docker: boolean): SelectionProbes & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    checkJava: () => {
      calls.push('java');
      return java ? Promise.resolve(17) : Promise.reject(new TestingError('JAVA_NOT_FOUND', 'no java here'));
    },
    containerRuntimeAvailable: () => {
      calls.push('docker');
      return Promise.resolve(docker);
    },
  };
}

async function failure(promise: Promise<unknown>): Promise<TestingError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TestingError);
  return error as TestingError;
}

describe('selectKafkaBackend', () => {
  it('uses KAFKA_BROKERS without probing anything', async () => {
    const p = probes(true, true);
    const backend = await selectKafkaBackend({ KAFKA_BROKERS: '10.0.0.1:9092, kafka-2:9093' }, p);
    expect(backend).toEqual({ kind: 'external', brokers: ['10.0.0.1:9092', 'kafka-2:9093'] });
    expect(p.calls).toEqual([]);
  });

  it('rejects a malformed KAFKA_BROKERS with the bad entry named', async () => {
    const error = await failure(selectKafkaBackend({ KAFKA_BROKERS: 'PLAINTEXT://h:9092' }, probes(true, true)));
    expect(error.code).toBe('INVALID_BROKERS');
    expect(error.message).toContain("'PLAINTEXT://h:9092'");
  });

  it('rejects KAFKA_BROKERS combined with an explicit mode', async () => {
    const error = await failure(selectKafkaBackend({ KAFKA_BROKERS: 'h:1', TROUPE_KAFKA: 'local' }, probes(true, true)));
    expect(error.code).toBe('INVALID_OPTIONS');
  });

  it('auto prefers the local JVM broker when Java is there, even with Docker', async () => {
    const p = probes(true, true);
    expect(await selectKafkaBackend({}, p)).toEqual({ kind: 'local' });
    expect(p.calls).toEqual(['java']);
  });

  it('auto falls back to testcontainers without Java', async () => {
    expect(await selectKafkaBackend({ TROUPE_KAFKA: 'auto' }, probes(false, true))).toEqual({ kind: 'testcontainers' });
  });

  it('auto fails naming the Java problem when neither path works', async () => {
    const error = await failure(selectKafkaBackend({}, probes(false, false)));
    expect(error.code).toBe('JAVA_NOT_FOUND');
    expect(error.message).toContain('no java here');
    expect(error.message).toContain('KAFKA_BROKERS');
  });

  it('local does not probe', async () => {
    const p = probes(false, false);
    expect(await selectKafkaBackend({ TROUPE_KAFKA: 'local' }, p)).toEqual({ kind: 'local' });
    expect(p.calls).toEqual([]);
  });

  it('testcontainers requires a container runtime', async () => {
    expect(await selectKafkaBackend({ TROUPE_KAFKA: 'testcontainers' }, probes(false, true))).toEqual({ kind: 'testcontainers' });
    const error = await failure(selectKafkaBackend({ TROUPE_KAFKA: 'testcontainers' }, probes(true, false)));
    expect(error.code).toBe('CONTAINER_RUNTIME_UNAVAILABLE');
  });
});

describe('parseKafkaMode', () => {
  it('defaults to auto and rejects unknown modes', () => {
    expect(parseKafkaMode(undefined)).toBe('auto');
    expect(parseKafkaMode(' ')).toBe('auto');
    expect(parseKafkaMode('testcontainers')).toBe('testcontainers');
    expect(() => parseKafkaMode('docker')).toThrow(/TROUPE_KAFKA=docker/);
  });
});
