import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TestingError } from '../kafka/errors.js';
import { APICURIO_RUN_JAR, isApicurioCommandLine } from './apicurio-version.js';
import { LocalSchemaRegistry } from './local-registry.js';
import { findRegistryJava } from './registry-java.js';

let dir: string;

/** A fake JDK folder whose `bin/java -version` prints the given version, as real ones do, on stderr. */
async function fakeJdk(name: string, version: string): Promise<string> {
  const bin = join(dir, 'jvm', name, 'bin');
  await mkdir(bin, { recursive: true });
  const java = join(bin, 'java');
  await writeFile(java, `#!/bin/sh\necho 'openjdk version "${version}" 2026-01-01' >&2\n`);
  await chmod(java, 0o755);
  return java;
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'troupe-java-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('findRegistryJava', () => {
  it('takes a Java 17 default as it is: Apicurio 3.0 runs on it', async () => {
    const java17 = await fakeJdk('java-17-openjdk', '17.0.15');
    await fakeJdk('temurin-21-jdk', '21.0.4');
    const found = await findRegistryJava({ JAVA_HOME: join(java17, '../..'), PATH: '' }, join(dir, 'jvm'));
    expect(found).toEqual({ path: java17, major: 17 });
  });

  it('skips an older default and finds a new enough JDK installed beside it', async () => {
    const java11 = await fakeJdk('java-11-openjdk', '11.0.22');
    const java17 = await fakeJdk('java-17-openjdk', '17.0.15');
    const found = await findRegistryJava({ JAVA_HOME: join(java11, '../..'), PATH: '' }, join(dir, 'jvm'));
    expect(found).toEqual({ path: java17, major: 17 });
    const legacy = await fakeJdk('java-8-openjdk', '1.8.0_392');
    expect(await findRegistryJava({ JAVA_HOME: join(legacy, '../..'), PATH: '' }, join(dir, 'jvm'))).toEqual({ path: java17, major: 17 });
  });

  it('honours TROUPE_REGISTRY_JAVA and refuses one that is too old', async () => {
    const java25 = await fakeJdk('jdk-25', '25.0.3');
    expect(await findRegistryJava({ TROUPE_REGISTRY_JAVA: java25 }, join(dir, 'none'))).toEqual({ path: java25, major: 25 });
    const java11 = await fakeJdk('jdk-11', '11.0.1');
    await expect(findRegistryJava({ TROUPE_REGISTRY_JAVA: java11 }, join(dir, 'none'))).rejects.toThrow(
      /TROUPE_REGISTRY_JAVA=.* is Java 11; Apicurio Registry needs Java 17\+/,
    );
  });

  it('says what it found and what to install when nothing is new enough', async () => {
    await fakeJdk('java-11-openjdk', '11.0.22');
    const err = await findRegistryJava({ PATH: '' }, join(dir, 'jvm')).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TestingError);
    expect(err).toMatchObject({ code: 'JAVA_TOO_OLD' });
    expect((err as Error).message).toMatch(/java-11-openjdk\/bin\/java \(Java 11\).*Install a JDK 17\+.*set TROUPE_REGISTRY_JAVA/);
  });
});

describe('LocalSchemaRegistry options', () => {
  it('rejects impossible options before downloading or starting anything', async () => {
    await expect(LocalSchemaRegistry.start({ port: 70_000 })).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
    await expect(LocalSchemaRegistry.start({ startTimeoutMs: 0 })).rejects.toThrow(/startTimeoutMs 0 must be > 0/);
  });
});

describe('isApicurioCommandLine', () => {
  it('knows the 3.0 runner jar and the 3.3 quarkus-run.jar, and nothing else', () => {
    const argv = (...a: string[]): string => `${a.join('\0')}\0`;
    expect(APICURIO_RUN_JAR).toMatch(/^apicurio-registry-app-3\.0\.\d+-runner\.jar$/);
    expect(isApicurioCommandLine(argv('java', '-Dquarkus.http.port=1', '-jar', `/c/apicurio-3.0.9/${APICURIO_RUN_JAR}`))).toBe(true);
    expect(isApicurioCommandLine(argv('java', '-jar', '/c/apicurio-3.3.3/quarkus-run.jar'))).toBe(true);
    expect(isApicurioCommandLine(argv('java', '-cp', '/c/kafka-4.1.2/libs/*', 'kafka.Kafka'))).toBe(false);
  });
});
