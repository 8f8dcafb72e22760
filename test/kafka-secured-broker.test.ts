import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AclOperationTypes,
  AclPermissionTypes,
  AclResourceTypes,
  Kafka,
  Partitioners,
  ResourcePatternTypes,
  logLevel,
  type KafkaConfig,
} from 'kafkajs';
import { LocalKafka, uniqueTopic } from '@troupe/testing';

// One secured broker for this file: SASL_SSL with SCRAM-SHA-512, StandardAuthorizer, ACLs enforced.
describe('LocalKafka with secured: SASL_SSL, SCRAM-SHA-512 and ACLs', () => {
  let kafka: LocalKafka;

  beforeAll(async () => {
    kafka = await LocalKafka.start({ secured: { users: { alice: 'alice-secret' } } });
  });
  afterAll(async () => {
    await kafka?.stop();
  });

  const client = (config: Partial<KafkaConfig>): Kafka =>
    new Kafka({
      clientId: 'secured-test',
      logLevel: logLevel.NOTHING,
      connectionTimeout: 3_000,
      requestTimeout: 5_000,
      retry: { retries: 0 },
      ...kafka.connection(),
      ...config,
    });

  it('the super user produces and reads back over TLS', async () => {
    const topic = uniqueTopic('secured');
    const k = client({});
    const admin = k.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    await admin.disconnect();
    const producer = k.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    await producer.send({ topic, messages: [{ key: 'k', value: 'over-tls' }] });
    await producer.disconnect();
    const ends = await (async () => {
      const a = k.admin();
      await a.connect();
      try {
        return await a.fetchTopicOffsets(topic);
      } finally {
        await a.disconnect();
      }
    })();
    expect(ends.map((e) => e.high)).toEqual(['1']);
  });

  it('refuses a wrong password with a SASL authentication error', async () => {
    const admin = client({
      ...kafka.connection('alice'),
      sasl: { mechanism: 'scram-sha-512', username: 'alice', password: 'wrong' },
    }).admin();
    await expect(admin.connect()).rejects.toMatchObject({ name: 'KafkaJSSASLAuthenticationError' });
  });

  it('refuses an unknown user', async () => {
    const admin = client({ sasl: { mechanism: 'scram-sha-512', username: 'mallory', password: 'whatever' } }).admin();
    await expect(admin.connect()).rejects.toMatchObject({ name: 'KafkaJSSASLAuthenticationError' });
  });

  it('refuses a client without TLS', async () => {
    const admin = client({ ssl: false }).admin();
    await expect(admin.connect()).rejects.toThrow();
  });

  it('a user with good credentials but no ACL is refused, and allowed once an ACL grants it', async () => {
    const topic = uniqueTopic('secured-acl');
    const alice = client(kafka.connection('alice')).admin();
    await alice.connect();
    try {
      const refused = await alice.createTopics({ topics: [{ topic, numPartitions: 1 }] }).then(
        () => undefined,
        (error: unknown) => error as { errors?: { type?: string }[] },
      );
      expect(refused?.errors?.map((e) => e.type)).toEqual(['TOPIC_AUTHORIZATION_FAILED']);

      const admin = client({}).admin();
      await admin.connect();
      await admin.createAcls({
        acl: [
          {
            resourceType: AclResourceTypes.TOPIC,
            resourceName: topic,
            resourcePatternType: ResourcePatternTypes.LITERAL,
            principal: 'User:alice',
            host: '*',
            operation: AclOperationTypes.CREATE,
            permissionType: AclPermissionTypes.ALLOW,
          },
        ],
      });
      await admin.disconnect();
      // ACLs reach the authorizer through the metadata log: allow a moment for it to apply.
      // CREATE alone does not imply DESCRIBE, so do not wait for leaders through metadata.
      let created: unknown = false;
      for (let i = 0; i < 50 && created !== true; i++) {
        created = await alice
          .createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: false })
          .catch((error: unknown) => error);
        if (created !== true) await new Promise((r) => setTimeout(r, 100));
      }
      expect(created).toBe(true);
    } finally {
      await alice.disconnect();
    }
  });

  it('exposes the certificate as a PEM file for CLIs', () => {
    expect(kafka.secured).toBe(true);
    expect(kafka.caFile).toMatch(/ca\.pem$/);
    expect(() => kafka.connection('nobody')).toThrow(/No user nobody/);
  });
});
