import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { SASLOptions } from 'kafkajs';
import { TestingError } from './errors.js';
import { runCommand } from './java.js';

/**
 * A secured broker: one SASL_SSL client listener (SCRAM-SHA-512 over TLS with a certificate made
 * at start), KRaft's StandardAuthorizer with ACLs enforced, and a super user for the broker's own
 * traffic and for tests' administration.
 */
export interface SecuredKafkaOptions {
  /**
   * SCRAM-SHA-512 users created when the storage is formatted (KRaft stores SCRAM credentials in
   * its metadata, so they exist before the broker serves anyone). Name → password. They start
   * with no ACLs: everything is refused until ACLs are added.
   * @default {}
   */
  readonly users?: Readonly<Record<string, string>>;
  /** The super user (controller, inter-broker, tests' admin). @default 'admin' */
  readonly superUser?: string;
}

/** Resolved security of a launched secured broker. */
export interface BrokerSecurity {
  readonly superUser: string;
  readonly superPassword: string;
  readonly users: Readonly<Record<string, string>>;
  /** PEM of the self-signed certificate clients must trust. */
  readonly caPem: string;
  /** The same PEM as a file (for CLIs: `--ssl-ca-file`, `KAFKA_SSL_CA_FILE`). */
  readonly caFile: string;
  readonly keystoreFile: string;
  readonly keystorePassword: string;
}

/** kafkajs connection settings for one principal of a secured broker. */
export interface KafkaClientSecurity {
  readonly ssl: { readonly ca: string[] };
  readonly sasl: SASLOptions;
}

const USER_NAME = /^[A-Za-z0-9._-]+$/;

/** Checks user names and passwords early: they end up inside format arguments and JAAS strings. */
export function checkSecuredOptions(options: SecuredKafkaOptions): { superUser: string; users: Record<string, string> } {
  const superUser = options.superUser ?? 'admin';
  const users: Record<string, string> = { ...(options.users ?? {}) };
  for (const [name, password] of Object.entries({ [superUser]: 'x', ...users })) {
    if (!USER_NAME.test(name)) {
      throw new TestingError(
        'INVALID_OPTIONS',
        `secured.users: user name ${JSON.stringify(name)} must match ${String(USER_NAME)} (it becomes the ACL principal User:${name}).`,
      );
    }
    if (password === '' || /["\\,\]=\s]/.test(password)) {
      throw new TestingError(
        'INVALID_OPTIONS',
        `secured.users: the password of ${name} must be non-empty without quotes, backslashes, commas, '=', ']' or spaces (kafka-storage --add-scram syntax).`,
      );
    }
  }
  if (superUser in users) {
    throw new TestingError('INVALID_OPTIONS', `secured.users: ${superUser} is the super user; give other users other names.`);
  }
  return { superUser, users };
}

/** keytool next to the java binary, else on PATH. */
function keytoolPath(javaPath: string): string {
  return javaPath.includes('/') ? join(dirname(javaPath), basename(javaPath).replace(/^java/, 'keytool')) : 'keytool';
}

/**
 * Makes a self-signed certificate for 127.0.0.1/localhost in a PKCS12 keystore and exports it as
 * PEM for clients. EC P-256 keeps generation fast; two days of validity is plenty for a test run.
 */
export async function createBrokerCertificate(args: {
  dir: string;
  javaPath: string;
  superUser: string;
  users: Record<string, string>;
}): Promise<BrokerSecurity> {
  const keytool = keytoolPath(args.javaPath);
  const keystoreFile = join(args.dir, 'broker.p12');
  const caFile = join(args.dir, 'ca.pem');
  const keystorePassword = randomBytes(12).toString('hex');
  const run = async (what: string, keytoolArgs: string[]): Promise<void> => {
    const result = await runCommand(keytool, keytoolArgs).catch((error: unknown) => ({ code: -1, stdout: '', stderr: String(error) }));
    if (result.code !== 0) {
      throw new TestingError(
        'BROKER_FAILED',
        `${what} with ${keytool} failed (exit ${String(result.code)}): ${`${result.stdout}\n${result.stderr}`.trim()}. ` +
          'keytool comes with the JDK; set JAVA_HOME to a full JDK.',
      );
    }
  };
  const common = ['-alias', 'broker', '-keystore', keystoreFile, '-storetype', 'PKCS12', '-storepass', keystorePassword];
  await run('Generating the broker certificate', [
    '-genkeypair',
    ...common,
    '-keyalg',
    'EC',
    '-groupname',
    'secp256r1',
    '-sigalg',
    'SHA256withECDSA',
    '-validity',
    '2',
    '-dname',
    'CN=localhost',
    '-ext',
    'SAN=ip:127.0.0.1,dns:localhost',
  ]);
  await run('Exporting the broker certificate', ['-exportcert', '-rfc', ...common, '-file', caFile]);
  return {
    superUser: args.superUser,
    superPassword: randomBytes(12).toString('hex'),
    users: args.users,
    caPem: await readFile(caFile, 'utf8'),
    caFile,
    keystoreFile,
    keystorePassword,
  };
}

/**
 * Broker properties of the secured listener layout: SASL_SSL (SCRAM-SHA-512) for clients and
 * inter-broker traffic; the controller listener uses SASL PLAIN, because SCRAM credentials live in
 * the metadata log that the controller itself serves. Every node authenticates as the super user.
 */
export function securedProperties(
  security: BrokerSecurity,
  ports: { host: string; brokerPort: number; controllerPort: number },
): Record<string, string> {
  const { superUser: user, superPassword: password } = security;
  return {
    listeners: `SASL_SSL://${ports.host}:${ports.brokerPort},CONTROLLER://${ports.host}:${ports.controllerPort}`,
    'advertised.listeners': `SASL_SSL://${ports.host}:${ports.brokerPort}`,
    'listener.security.protocol.map': 'SASL_SSL:SASL_SSL,CONTROLLER:SASL_PLAINTEXT',
    'inter.broker.listener.name': 'SASL_SSL',
    'sasl.enabled.mechanisms': 'SCRAM-SHA-512',
    'sasl.mechanism.inter.broker.protocol': 'SCRAM-SHA-512',
    'sasl.mechanism.controller.protocol': 'PLAIN',
    'listener.name.sasl_ssl.sasl.enabled.mechanisms': 'SCRAM-SHA-512',
    'listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config': `org.apache.kafka.common.security.scram.ScramLoginModule required username="${user}" password="${password}";`,
    'listener.name.controller.sasl.enabled.mechanisms': 'PLAIN',
    'listener.name.controller.plain.sasl.jaas.config': `org.apache.kafka.common.security.plain.PlainLoginModule required username="${user}" password="${password}" user_${user}="${password}";`,
    'ssl.keystore.type': 'PKCS12',
    'ssl.keystore.location': security.keystoreFile,
    'ssl.keystore.password': security.keystorePassword,
    'ssl.key.password': security.keystorePassword,
    'ssl.truststore.type': 'PEM',
    'ssl.truststore.location': security.caFile,
    'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
    'super.users': `User:${user}`,
    'allow.everyone.if.no.acl.found': 'false',
  };
}

/** `kafka-storage format` arguments that create every SCRAM user before the first start. */
export function scramFormatArgs(security: BrokerSecurity): string[] {
  const all = { [security.superUser]: security.superPassword, ...security.users };
  return Object.entries(all).flatMap(([name, password]) => ['--add-scram', `SCRAM-SHA-512=[name=${name},password=${password}]`]);
}

/** kafkajs `ssl` + `sasl` for `user` (the super user when omitted). */
export function clientSecurity(security: BrokerSecurity, user?: string): KafkaClientSecurity {
  const name = user ?? security.superUser;
  const password = name === security.superUser ? security.superPassword : security.users[name];
  if (password === undefined) {
    throw new TestingError(
      'INVALID_OPTIONS',
      `No user ${name} on this broker; add it to secured.users (known: ${[security.superUser, ...Object.keys(security.users)].join(', ')}).`,
    );
  }
  return { ssl: { ca: [security.caPem] }, sasl: { mechanism: 'scram-sha-512', username: name, password } };
}
