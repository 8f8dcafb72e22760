import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { TestingError } from '../kafka/errors.js';
import { parseJavaMajor, runCommand } from '../kafka/java.js';
import { APICURIO_MIN_JAVA_MAJOR } from './apicurio-version.js';

async function majorOf(javaPath: string): Promise<number | undefined> {
  try {
    const r = await runCommand(javaPath, ['-version']);
    return parseJavaMajor(r.stderr + r.stdout);
  } catch {
    return undefined;
  }
}

/**
 * A Java runtime new enough for Apicurio: `$TROUPE_REGISTRY_JAVA`, then `$JAVA_HOME`, then `java`
 * on PATH, then the JDKs under /usr/lib/jvm (newest first). The default Java 17 is enough for
 * Apicurio 3.0; the search still helps where `java` on PATH is older (Java 11 as the system
 * default, a newer JDK installed beside it) without changing PATH.
 */
export async function findRegistryJava(
  env: NodeJS.ProcessEnv = process.env,
  jvmDir = '/usr/lib/jvm',
): Promise<{ path: string; major: number }> {
  const explicit = env['TROUPE_REGISTRY_JAVA'];
  const candidates: string[] = [];
  if (explicit) candidates.push(explicit);
  if (env['JAVA_HOME']) candidates.push(join(env['JAVA_HOME'], 'bin', 'java'));
  if (env['PATH']) candidates.push('java');
  const installed = await readdir(jvmDir).catch(() => [] as string[]);
  candidates.push(
    ...installed
      .sort()
      .reverse()
      .map((d) => join(jvmDir, d, 'bin', 'java')),
  );
  const seen: string[] = [];
  for (const c of candidates) {
    const major = await majorOf(c);
    if (major !== undefined && major >= APICURIO_MIN_JAVA_MAJOR) return { path: c, major };
    if (explicit !== undefined && c === explicit) {
      throw new TestingError(
        'JAVA_TOO_OLD',
        `TROUPE_REGISTRY_JAVA=${explicit} is ${major === undefined ? 'not a runnable java' : `Java ${major}`}; Apicurio Registry needs Java ${APICURIO_MIN_JAVA_MAJOR}+.`,
      );
    }
    seen.push(`${c} (${major === undefined ? 'not found' : `Java ${major}`})`);
  }
  throw new TestingError(
    'JAVA_TOO_OLD',
    `Apicurio Registry needs Java ${APICURIO_MIN_JAVA_MAJOR} or newer; found only: ${seen.join(', ')}. ` +
      `Install a JDK ${APICURIO_MIN_JAVA_MAJOR}+ (it may sit beside an older default) and set TROUPE_REGISTRY_JAVA=/path/to/bin/java, or set SCHEMA_REGISTRY_URL to a running registry.`,
  );
}
