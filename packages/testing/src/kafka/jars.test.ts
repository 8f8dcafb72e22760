import { chmod, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TestingError } from './errors.js';
import { COMPLETE_MARKER, ensureKafkaJars, readCompleteJars } from './jars.js';
import { kafkaJarsDir } from './paths.js';

const temps: string[] = [];
async function temp(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'troupe-jars-test-'));
  temps.push(dir);
  return dir;
}
afterEach(async () => {
  await Promise.all(temps.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

/** A stand-in `mvn` that prints what a real one prints when offline with an empty ~/.m2. */
async function fakeMaven(dir: string, body: string): Promise<string> {
  const path = join(dir, 'mvn');
  await writeFile(path, `#!/bin/sh\n${body}\n`);
  await chmod(path, 0o755);
  return path;
}

describe('ensureKafkaJars', () => {
  it('fails with MAVEN_NOT_FOUND when Maven is missing and the cache is empty', async () => {
    const cacheDir = await temp();
    const error = await ensureKafkaJars({ cacheDir, mavenPath: join(cacheDir, 'no-such-mvn') }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TestingError);
    expect((error as TestingError).code).toBe('MAVEN_NOT_FOUND');
  });

  it('explains an offline Maven with an empty cache', async () => {
    const cacheDir = await temp();
    const mvn = await fakeMaven(
      cacheDir,
      "echo '[ERROR] Failed to execute goal: Could not resolve dependencies: Cannot access central in offline mode' >&2; exit 1",
    );
    const error = await ensureKafkaJars({ cacheDir, mavenPath: mvn }).catch((e: unknown) => e);
    expect((error as TestingError).code).toBe('KAFKA_JARS_UNAVAILABLE');
    expect((error as TestingError).message).toMatch(/offline/);
    expect((error as TestingError).message).toContain('Cannot access central');
    // Nothing half-written is left to be mistaken for a cache.
    expect(await readdir(cacheDir)).toEqual(['mvn']);
  });

  it('publishes a complete folder with a marker and skips Maven next time', async () => {
    const cacheDir = await temp();
    const mvn = await fakeMaven(
      cacheDir,
      'for a in "$@"; do case "$a" in -Dtroupe.jars.dir=*) d="${a#-Dtroupe.jars.dir=}";; esac; done; mkdir -p "$d"; touch "$d/a.jar" "$d/b.jar"',
    );
    const first = await ensureKafkaJars({ cacheDir, mavenPath: mvn });
    expect(first).toMatchObject({ downloaded: true, jarCount: 2, dir: kafkaJarsDir(cacheDir) });
    expect(await readCompleteJars(first.dir)).toEqual(['a.jar', 'b.jar']);
    expect(await readdir(first.dir)).toContain(COMPLETE_MARKER);
    const second = await ensureKafkaJars({ cacheDir, mavenPath: join(cacheDir, 'maven-is-gone') });
    expect(second).toMatchObject({ downloaded: false, jarCount: 2 });
  });

  it('treats a folder whose jars went missing as incomplete', async () => {
    const cacheDir = await temp();
    const dir = kafkaJarsDir(cacheDir);
    const mvn = await fakeMaven(
      cacheDir,
      'for a in "$@"; do case "$a" in -Dtroupe.jars.dir=*) d="${a#-Dtroupe.jars.dir=}";; esac; done; mkdir -p "$d"; touch "$d/a.jar"',
    );
    await ensureKafkaJars({ cacheDir, mavenPath: mvn });
    await rm(join(dir, 'a.jar'));
    expect(await readCompleteJars(dir)).toBeUndefined();
    expect((await ensureKafkaJars({ cacheDir, mavenPath: mvn })).downloaded).toBe(true);
  });
});
