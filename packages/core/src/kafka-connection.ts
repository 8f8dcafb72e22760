import { TroupeError } from './troupe-error.js';

/**
 * How every Troupe tool reaches a secured Kafka cluster and registry: one list of flags and
 * environment variables, parsed once. Pure: reading certificate files is the caller's `readFile`,
 * so this module stays free of I/O.
 */

export type SaslMechanism = 'plain' | 'scram-sha-256' | 'scram-sha-512';
export const SASL_MECHANISMS: readonly SaslMechanism[] = ['plain', 'scram-sha-256', 'scram-sha-512'];

/** kafkajs-shaped connection settings (`new Kafka({ ...settings })`, `KafkaTransport.create`). */
export interface KafkaConnection {
  readonly brokers: string[];
  /** TLS: `true` trusts the system CAs; an object adds a private CA and/or a client certificate. */
  readonly ssl?: true | { readonly ca?: string[]; readonly cert?: string; readonly key?: string };
  readonly sasl?: KafkaSasl;
}

/** SASL credentials, one member per mechanism (as kafkajs types them). */
export type KafkaSasl = {
  readonly [M in SaslMechanism]: { readonly mechanism: M; readonly username: string; readonly password: string };
}[SaslMechanism];

/** Confluent-compatible registry settings (`ConfluentSchemaRegistry.create`). */
export interface RegistryConnection {
  readonly url: string;
  readonly auth?: { readonly username: string; readonly password: string };
}

/** One connection setting: its CLI flag, its environment variable, and whether it is a secret. */
export interface ConnectionOptionSpec<K extends string = string> {
  readonly key: K;
  /** Commander syntax, e.g. `--sasl-username <name>`. */
  readonly flag: string;
  readonly env: string;
  readonly description: string;
  /** Secrets are never printed; prefer the environment variable (flags show in `ps`). */
  readonly secret?: boolean;
}

export type KafkaConnectionKey =
  'brokers' | 'saslMechanism' | 'saslUsername' | 'saslPassword' | 'ssl' | 'sslCaFile' | 'sslCertFile' | 'sslKeyFile';
export type RegistryConnectionKey = 'registry' | 'registryUsername' | 'registryPassword';

export const KAFKA_CONNECTION_OPTIONS: readonly ConnectionOptionSpec<KafkaConnectionKey>[] = [
  { key: 'brokers', flag: '--brokers <list>', env: 'KAFKA_BROKERS', description: 'Kafka bootstrap servers, host:port[,host:port]' },
  {
    key: 'saslMechanism',
    flag: '--sasl-mechanism <mechanism>',
    env: 'KAFKA_SASL_MECHANISM',
    description: `SASL mechanism: ${SASL_MECHANISMS.join(', ')}`,
  },
  { key: 'saslUsername', flag: '--sasl-username <name>', env: 'KAFKA_SASL_USERNAME', description: 'SASL user name' },
  {
    key: 'saslPassword',
    flag: '--sasl-password <password>',
    env: 'KAFKA_SASL_PASSWORD',
    description: 'SASL password (prefer the environment variable)',
    secret: true,
  },
  { key: 'ssl', flag: '--ssl', env: 'KAFKA_SSL', description: 'connect with TLS (implied by the --ssl-*-file options)' },
  {
    key: 'sslCaFile',
    flag: '--ssl-ca-file <file>',
    env: 'KAFKA_SSL_CA_FILE',
    description: "PEM file of the CA that signed the brokers' certificates",
  },
  { key: 'sslCertFile', flag: '--ssl-cert-file <file>', env: 'KAFKA_SSL_CERT_FILE', description: 'PEM client certificate (mutual TLS)' },
  { key: 'sslKeyFile', flag: '--ssl-key-file <file>', env: 'KAFKA_SSL_KEY_FILE', description: 'PEM client key (mutual TLS)', secret: true },
];

export const REGISTRY_CONNECTION_OPTIONS: readonly ConnectionOptionSpec<RegistryConnectionKey>[] = [
  {
    key: 'registry',
    flag: '--registry <url>',
    env: 'SCHEMA_REGISTRY_URL',
    description: 'Confluent-compatible schema registry URL (https:// for TLS; a private CA via NODE_EXTRA_CA_CERTS)',
  },
  { key: 'registryUsername', flag: '--registry-username <name>', env: 'SCHEMA_REGISTRY_USERNAME', description: 'registry basic-auth user' },
  {
    key: 'registryPassword',
    flag: '--registry-password <password>',
    env: 'SCHEMA_REGISTRY_PASSWORD',
    description: 'registry basic-auth password (prefer the environment variable)',
    secret: true,
  },
];

/** Wrong or incomplete connection settings; the message names the flag and variable to fix. */
export class ConnectionOptionsError extends TroupeError<'INVALID_CONNECTION_OPTIONS'> {
  override readonly name = 'ConnectionOptionsError';

  constructor(message: string) {
    super('INVALID_CONNECTION_OPTIONS', message, new Set());
  }
}

type Values<K extends string> = Partial<Record<K, string | boolean | undefined>>;

/** Values from the environment only (services configured by env, e.g. in docker-compose). */
export function connectionValuesFromEnv<K extends string>(
  specs: readonly ConnectionOptionSpec<K>[],
  env: Readonly<Record<string, string | undefined>>,
): Values<K> {
  const values: Values<K> = {};
  for (const s of specs) {
    const v = env[s.env];
    if (v !== undefined && v !== '') values[s.key] = v;
  }
  return values;
}

/** The environment variables that carry `values` to a child process (secrets included, never argv). */
export function connectionValuesToEnv<K extends string>(
  specs: readonly ConnectionOptionSpec<K>[],
  values: Values<K>,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const s of specs) {
    const v = values[s.key];
    if (v === true) env[s.env] = 'true';
    else if (typeof v === 'string' && v !== '') env[s.env] = v;
  }
  return env;
}

const name = (spec: ConnectionOptionSpec): string => `${spec.flag.split(' ')[0] ?? spec.flag} (${spec.env})`;
const specOf = (key: KafkaConnectionKey): ConnectionOptionSpec =>
  KAFKA_CONNECTION_OPTIONS.find((s) => s.key === key) as ConnectionOptionSpec;

function text(v: string | boolean | undefined): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function flag(v: string | boolean | undefined): boolean {
  return v === true || (typeof v === 'string' && /^(1|true|yes)$/i.test(v));
}

/**
 * Kafka settings from parsed flags/env values. Every problem is reported at once, with the flag
 * and variable to fix. `readFile` reads PEM files (the caller's `fs.readFileSync(path, 'utf8')`).
 */
export function kafkaConnectionFrom(values: Values<KafkaConnectionKey>, readFile: (path: string) => string): KafkaConnection {
  const problems: string[] = [];
  const brokers = (text(values.brokers) ?? '')
    .split(',')
    .map((b) => b.trim())
    .filter((b) => b !== '');
  if (brokers.length === 0) problems.push(`${name(specOf('brokers'))} is required, e.g. 127.0.0.1:9092`);
  for (const b of brokers) if (!/^[^:\s]+:\d+$/.test(b)) problems.push(`${name(specOf('brokers'))}: '${b}' is not host:port`);

  const mechanism = text(values.saslMechanism)?.toLowerCase();
  const username = text(values.saslUsername);
  const password = text(values.saslPassword);
  let sasl: KafkaConnection['sasl'];
  if (mechanism !== undefined || username !== undefined || password !== undefined) {
    if (mechanism === undefined || !(SASL_MECHANISMS as readonly string[]).includes(mechanism)) {
      problems.push(
        `${name(specOf('saslMechanism'))} must be one of ${SASL_MECHANISMS.join(', ')}${mechanism === undefined ? '' : `, got '${mechanism}'`}`,
      );
    }
    if (username === undefined) problems.push(`${name(specOf('saslUsername'))} is required with SASL`);
    if (password === undefined) problems.push(`${name(specOf('saslPassword'))} is required with SASL`);
    if (problems.length === 0) sasl = { mechanism: mechanism as SaslMechanism, username: username as string, password: password as string };
  }

  const read = (key: 'sslCaFile' | 'sslCertFile' | 'sslKeyFile'): string | undefined => {
    const file = text(values[key]);
    if (file === undefined) return undefined;
    try {
      return readFile(file);
    } catch (err) {
      problems.push(`${name(specOf(key))}: cannot read ${file} (${err instanceof Error ? err.message : String(err)})`);
      return undefined;
    }
  };
  const ca = read('sslCaFile');
  const cert = read('sslCertFile');
  const key = read('sslKeyFile');
  if ((cert === undefined) !== (key === undefined) && problems.length === 0) {
    problems.push(`${name(specOf('sslCertFile'))} and ${name(specOf('sslKeyFile'))} go together`);
  }
  const tls = flag(values.ssl) || ca !== undefined || cert !== undefined;
  if (sasl?.mechanism === 'plain' && !tls) {
    problems.push(`SASL PLAIN sends the password in clear: add ${name(specOf('ssl'))} or ${name(specOf('sslCaFile'))}`);
  }
  if (problems.length > 0) throw new ConnectionOptionsError(`Kafka connection settings: ${problems.join('; ')}.`);
  const ssl: KafkaConnection['ssl'] = !tls
    ? undefined
    : ca === undefined && cert === undefined
      ? true
      : { ...(ca !== undefined ? { ca: [ca] } : {}), ...(cert !== undefined ? { cert } : {}), ...(key !== undefined ? { key } : {}) };
  return { brokers, ...(ssl !== undefined ? { ssl } : {}), ...(sasl !== undefined ? { sasl } : {}) };
}

/** Registry settings from parsed flags/env values; undefined when no URL is given. */
export function registryConnectionFrom(values: Values<RegistryConnectionKey>): RegistryConnection | undefined {
  const url = text(values.registry);
  const username = text(values.registryUsername);
  const password = text(values.registryPassword);
  if (url === undefined) return undefined;
  if ((username === undefined) !== (password === undefined)) {
    throw new ConnectionOptionsError(
      'Registry connection settings: --registry-username (SCHEMA_REGISTRY_USERNAME) and --registry-password (SCHEMA_REGISTRY_PASSWORD) go together.',
    );
  }
  return { url, ...(username !== undefined && password !== undefined ? { auth: { username, password } } : {}) };
}

/** A one-line description for logs: how, and as whom — never a password or key. */
export function describeKafkaConnection(c: KafkaConnection): string {
  const how = c.sasl ? `SASL ${c.sasl.mechanism} as ${c.sasl.username}` : 'no SASL';
  const tls =
    c.ssl === undefined
      ? 'no TLS'
      : c.ssl === true
        ? 'TLS'
        : `TLS (${[c.ssl.ca ? 'private CA' : '', c.ssl.cert ? 'client certificate' : ''].filter(Boolean).join(', ')})`;
  return `${c.brokers.join(',')} (${how}, ${tls})`;
}
