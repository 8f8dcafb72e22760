import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KAFKA_VERSION } from './version.js';

// src/kafka/*.ts and dist/kafka/*.js sit at the same depth, so one relative path serves both.
const packageRoot = fileURLToPath(new URL('../../', import.meta.url));

/** `kafka/pom.xml` shipped with the package: pins the broker and its logging backend. */
export const KAFKA_POM = join(packageRoot, 'kafka', 'pom.xml');

/** Quiet log4j2 configuration shipped with the package. */
export const KAFKA_LOG4J2_CONFIG = join(packageRoot, 'kafka', 'log4j2.properties');

/** Where downloaded jars live: `$TROUPE_CACHE_DIR` or `~/.cache/troupe`. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env['TROUPE_CACHE_DIR'] || join(env['XDG_CACHE_HOME'] || join(homedir(), '.cache'), 'troupe');
}

/** The folder holding one Kafka version's jars inside a cache dir. */
export function kafkaJarsDir(cacheDir: string, version: string = KAFKA_VERSION): string {
  return join(cacheDir, `kafka-${version}`);
}

/**
 * Where running brokers keep their data, logs and pid files: `$TROUPE_STATE_DIR/kafka` or
 * `<cwd>/.troupe/kafka` (npm scripts run from the repository root, which ignores `.troupe/`).
 */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): string {
  return join(env['TROUPE_STATE_DIR'] || join(cwd, '.troupe'), 'kafka');
}
