import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import {
  ConnectionOptionsError,
  kafkaConnectionFrom,
  KAFKA_CONNECTION_OPTIONS,
  registryConnectionFrom,
  REGISTRY_CONNECTION_OPTIONS,
  type ConnectionOptionSpec,
  type KafkaConnection,
  type KafkaConnectionKey,
  type RegistryConnection,
  type RegistryConnectionKey,
} from '@troupe/core';
import { requireBrokers, usageError } from './cli-kit.js';

/**
 * Adds connection flags (each also read from its environment variable) to a commander program,
 * the same way in every Troupe CLI. Secret values are never shown: commander prints only the
 * variable's name in `--help`, and the CLIs log `describeKafkaConnection`, which omits them.
 */
export function addConnectionOptions(program: Command, specs: readonly ConnectionOptionSpec[]): Command {
  for (const spec of specs) program.addOption(new Option(spec.flag, spec.description).env(spec.env));
  return program;
}

/** The SASL/TLS options of a Kafka CLI; `brokersOption()` adds `--brokers`. */
export function kafkaConnectionOptions(): Option[] {
  return KAFKA_CONNECTION_OPTIONS.filter((s) => s.key !== 'brokers').map((s) => new Option(s.flag, s.description).env(s.env));
}

/** The registry basic-auth options; `registryOption()` adds `--registry`. */
export function registryAuthOptions(): Option[] {
  return REGISTRY_CONNECTION_OPTIONS.filter((s) => s.key !== 'registry').map((s) => new Option(s.flag, s.description).env(s.env));
}

/** Brokers, SASL and TLS of a command, or a usage error (exit 2) listing what to fix. */
export function requireKafkaConnection(command: Command): KafkaConnection {
  const brokers = requireBrokers(command);
  const values = command.optsWithGlobals<Partial<Record<KafkaConnectionKey, string | boolean>>>();
  try {
    return kafkaConnectionFrom({ ...values, brokers: brokers.join(',') }, (file) => readFileSync(file, 'utf8'));
  } catch (err) {
    if (err instanceof ConnectionOptionsError) return usageError(command, err.message);
    throw err;
  }
}

/** Registry URL and basic auth of a command; undefined without a URL. */
export function registryConnectionOf(command: Command): RegistryConnection | undefined {
  try {
    return registryConnectionFrom(command.optsWithGlobals<Partial<Record<RegistryConnectionKey, string>>>());
  } catch (err) {
    if (err instanceof ConnectionOptionsError) return usageError(command, err.message);
    throw err;
  }
}
