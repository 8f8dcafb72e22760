import { describe, expect, it } from 'vitest';
import {
  connectionValuesFromEnv,
  connectionValuesToEnv,
  describeKafkaConnection,
  kafkaConnectionFrom,
  KAFKA_CONNECTION_OPTIONS,
  registryConnectionFrom,
  REGISTRY_CONNECTION_OPTIONS,
} from './kafka-connection.js';

const files: Record<string, string> = { '/ca.pem': 'CA-PEM', '/client.pem': 'CERT', '/client.key': 'KEY' };
const readFile = (path: string): string => {
  const text = files[path];
  if (text === undefined) throw new Error('ENOENT');
  return text;
};

describe('Kafka connection settings from flags and environment', () => {
  it('plain brokers only', () => {
    expect(kafkaConnectionFrom({ brokers: 'a:1, b:2' }, readFile)).toEqual({ brokers: ['a:1', 'b:2'] });
  });

  it('SCRAM over TLS with a private CA, from the environment', () => {
    const env = {
      KAFKA_BROKERS: 'k:9093',
      KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
      KAFKA_SASL_USERNAME: 'svc',
      KAFKA_SASL_PASSWORD: 's3cret',
      KAFKA_SSL_CA_FILE: '/ca.pem',
    };
    const c = kafkaConnectionFrom(connectionValuesFromEnv(KAFKA_CONNECTION_OPTIONS, env), readFile);
    expect(c).toEqual({
      brokers: ['k:9093'],
      ssl: { ca: ['CA-PEM'] },
      sasl: { mechanism: 'scram-sha-512', username: 'svc', password: 's3cret' },
    });
    expect(describeKafkaConnection(c)).toBe('k:9093 (SASL scram-sha-512 as svc, TLS (private CA))');
    expect(describeKafkaConnection(c)).not.toContain('s3cret');
  });

  it('TLS with system CAs, and mutual TLS', () => {
    expect(kafkaConnectionFrom({ brokers: 'k:1', ssl: 'true' }, readFile).ssl).toBe(true);
    expect(kafkaConnectionFrom({ brokers: 'k:1', sslCertFile: '/client.pem', sslKeyFile: '/client.key' }, readFile).ssl).toEqual({
      cert: 'CERT',
      key: 'KEY',
    });
  });

  it('lists every problem with the flag and the variable to fix', () => {
    expect(() => kafkaConnectionFrom({ saslUsername: 'svc', sslCaFile: '/missing.pem' }, readFile)).toThrow(
      /--brokers \(KAFKA_BROKERS\) is required.*--sasl-mechanism \(KAFKA_SASL_MECHANISM\) must be one of plain, scram-sha-256, scram-sha-512.*--sasl-password \(KAFKA_SASL_PASSWORD\) is required.*--ssl-ca-file \(KAFKA_SSL_CA_FILE\): cannot read \/missing.pem/,
    );
    expect(() => kafkaConnectionFrom({ brokers: 'k:1', saslMechanism: 'plain', saslUsername: 'u', saslPassword: 'p' }, readFile)).toThrow(
      /PLAIN sends the password in clear/,
    );
    expect(() => kafkaConnectionFrom({ brokers: 'k:1', sslCertFile: '/client.pem' }, readFile)).toThrow(/go together/);
  });

  it('passes settings to a child process as variables', () => {
    expect(connectionValuesToEnv(KAFKA_CONNECTION_OPTIONS, { brokers: 'k:1', ssl: true, saslPassword: 'p' })).toEqual({
      KAFKA_BROKERS: 'k:1',
      KAFKA_SSL: 'true',
      KAFKA_SASL_PASSWORD: 'p',
    });
  });

  it('registry URL with basic auth', () => {
    expect(registryConnectionFrom({})).toBeUndefined();
    expect(
      registryConnectionFrom(
        connectionValuesFromEnv(REGISTRY_CONNECTION_OPTIONS, {
          SCHEMA_REGISTRY_URL: 'https://r',
          SCHEMA_REGISTRY_USERNAME: 'u',
          SCHEMA_REGISTRY_PASSWORD: 'p',
        }),
      ),
    ).toEqual({
      url: 'https://r',
      auth: { username: 'u', password: 'p' },
    });
    expect(() => registryConnectionFrom({ registry: 'https://r', registryUsername: 'u' })).toThrow(/go together/);
  });
});
