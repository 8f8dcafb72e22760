import { describe, expect, it } from 'vitest';
import { checkSecuredOptions, clientSecurity, scramFormatArgs, securedProperties, type BrokerSecurity } from './security.js';

const security: BrokerSecurity = {
  superUser: 'admin',
  superPassword: 'super',
  users: { alice: 'a1' },
  caPem: 'PEM',
  caFile: '/run/ca.pem',
  keystoreFile: '/run/broker.p12',
  keystorePassword: 'ks',
};

describe('secured broker settings', () => {
  it('creates every user, the super user included, at format time', () => {
    expect(scramFormatArgs(security)).toEqual([
      '--add-scram',
      'SCRAM-SHA-512=[name=admin,password=super]',
      '--add-scram',
      'SCRAM-SHA-512=[name=alice,password=a1]',
    ]);
  });

  it('uses SASL_SSL for clients, SASL PLAIN for the controller and enforces ACLs', () => {
    const props = securedProperties(security, { host: '127.0.0.1', brokerPort: 9093, controllerPort: 9094 });
    expect(props['listeners']).toBe('SASL_SSL://127.0.0.1:9093,CONTROLLER://127.0.0.1:9094');
    expect(props['listener.security.protocol.map']).toBe('SASL_SSL:SASL_SSL,CONTROLLER:SASL_PLAINTEXT');
    expect(props['authorizer.class.name']).toBe('org.apache.kafka.metadata.authorizer.StandardAuthorizer');
    expect(props['super.users']).toBe('User:admin');
    expect(props['allow.everyone.if.no.acl.found']).toBe('false');
  });

  it('refuses names and passwords that would break the format arguments', () => {
    expect(() => checkSecuredOptions({ users: { 'bad name': 'x' } })).toThrow(/user name/);
    expect(() => checkSecuredOptions({ users: { bob: 'a,b' } })).toThrow(/password of bob/);
    expect(() => checkSecuredOptions({ users: { admin: 'x' } })).toThrow(/super user/);
    expect(checkSecuredOptions({ users: { bob: 'b' } })).toEqual({ superUser: 'admin', users: { bob: 'b' } });
  });

  it('gives kafkajs settings per user and names the known users otherwise', () => {
    expect(clientSecurity(security, 'alice')).toEqual({
      ssl: { ca: ['PEM'] },
      sasl: { mechanism: 'scram-sha-512', username: 'alice', password: 'a1' },
    });
    expect(clientSecurity(security).sasl).toMatchObject({ username: 'admin' });
    expect(() => clientSecurity(security, 'eve')).toThrow(/known: admin, alice/);
  });
});
