import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { TestingError } from './errors.js';
import { MIN_JAVA_MAJOR } from './version.js';

/**
 * Major version from `java -version` output (printed on stderr), or undefined when it does not
 * look like one. Handles both `1.8.0_392` (Java 8 and older) and `17.0.15` / `21` styles.
 */
export function parseJavaMajor(versionOutput: string): number | undefined {
  const match = /version "([^"]+)"/.exec(versionOutput);
  const version = match?.[1];
  if (version === undefined) return undefined;
  const parts = version.split(/[.+_-]/);
  const first = Number(parts[0]);
  if (!Number.isInteger(first)) return undefined;
  if (first === 1) {
    const second = Number(parts[1]);
    return Number.isInteger(second) ? second : undefined;
  }
  return first;
}

/** `$JAVA_HOME/bin/java` when JAVA_HOME is set, else `java` from PATH. */
export function defaultJavaPath(env: NodeJS.ProcessEnv = process.env): string {
  const home = env['JAVA_HOME'];
  return home ? join(home, 'bin', 'java') : 'java';
}

export interface CommandResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to completion; rejects only when it cannot be started (ENOENT and friends). */
export function runCommand(command: string, args: readonly string[], options: { cwd?: string } = {}): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.once('error', reject);
    child.once('close', (code) => {
      resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
  });
}

/** Checks that `javaPath` runs and is Java 17 or newer; returns the major version. */
export async function checkJava(javaPath: string): Promise<number> {
  let result: CommandResult;
  try {
    result = await runCommand(javaPath, ['-version']);
  } catch (cause) {
    throw new TestingError(
      'JAVA_NOT_FOUND',
      `Could not run '${javaPath}': the local Kafka broker needs Java ${MIN_JAVA_MAJOR} or newer. ` +
        'Install a JDK/JRE (e.g. `apt-get install openjdk-17-jre-headless`) and put `java` on PATH or set JAVA_HOME, ' +
        'or point the tests at an existing cluster with KAFKA_BROKERS=host:port.',
      { cause },
    );
  }
  const major = parseJavaMajor(result.stderr + result.stdout);
  if (major === undefined) {
    throw new TestingError(
      'JAVA_NOT_FOUND',
      `'${javaPath} -version' did not print a Java version (exit ${String(result.code)}): ${result.stderr.trim().slice(0, 300)}. ` +
        `Install Java ${MIN_JAVA_MAJOR}+ or set JAVA_HOME to one.`,
    );
  }
  if (major < MIN_JAVA_MAJOR) {
    throw new TestingError(
      'JAVA_TOO_OLD',
      `'${javaPath}' is Java ${major}; Apache Kafka 4 needs Java ${MIN_JAVA_MAJOR} or newer. ` +
        `Install Java ${MIN_JAVA_MAJOR}+ and put it first on PATH or set JAVA_HOME, or use KAFKA_BROKERS=host:port.`,
    );
  }
  return major;
}
