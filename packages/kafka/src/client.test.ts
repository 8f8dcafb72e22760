import { OptionChecks } from '@troupe/core';
import { logLevel } from 'kafkajs';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { checkBrokers, createKafkaClient, pinoLogBridge } from './client.js';
import { heartbeatIntervalFor } from './reader.js';

describe('Kafka client set-up', () => {
  it.each([[[]], [['localhost']], [['a:1', 'b: 2']]])('refuses broker list %j with advice', (brokers) => {
    expect(() => createKafkaClient({ brokers })).toThrow(
      expect.objectContaining({
        code: 'CONFIG_INVALID',
        message: expect.stringContaining("brokers must be a non-empty list of 'host:port'") as unknown,
      }),
    );
  });

  it('accepts host:port lists, and reports every problem at once', () => {
    const check = new OptionChecks();
    checkBrokers(check, ['kafka-1:9092', '127.0.0.1:19092']);
    expect(check.ok).toBe(true);
    expect(() => createKafkaClient({ brokers: [], requestTimeoutMs: 0 })).toThrow(
      /brokers must be .*; requestTimeoutMs must be an integer >= 1/,
    );
  });

  it('lets kafkajs log only what the pino logger keeps, at the matching level', () => {
    const lines: { level: number; msg: string; namespace: string }[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line) as (typeof lines)[number]) });
    const bridge = pinoLogBridge(logger);
    expect(bridge.logLevel).toBe(logLevel.WARN);
    const log = bridge.logCreator?.(logLevel.WARN);
    log?.({ namespace: 'Consumer', level: logLevel.ERROR, label: 'ERROR', log: { message: 'crashed', timestamp: '' } });
    log?.({ namespace: 'Consumer', level: logLevel.WARN, label: 'WARN', log: { message: 'slow', timestamp: '' } });
    expect(lines.map((l) => [l.level, l.msg, l.namespace])).toEqual([
      [50, 'crashed', 'Consumer'],
      [40, 'slow', 'Consumer'],
    ]);
  });

  it('heartbeats ten times per session, between 100 ms and 3 s apart', () => {
    expect(heartbeatIntervalFor(30_000)).toBe(3_000);
    expect(heartbeatIntervalFor(10_000)).toBe(1_000);
    expect(heartbeatIntervalFor(1_000)).toBe(100);
    expect(heartbeatIntervalFor(120_000)).toBe(3_000);
  });
});
