import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { TestingError } from './errors.js';
import { runCommand, type CommandResult } from './java.js';
import { KAFKA_POM, defaultCacheDir, kafkaJarsDir } from './paths.js';
import { KAFKA_VERSION } from './version.js';

/** Written last into a jar folder: without it the folder is an interrupted download. */
export const COMPLETE_MARKER = '.troupe-complete.json';

interface Marker {
  readonly version: string;
  readonly jars: readonly string[];
}

export interface EnsureKafkaJarsOptions {
  /** @default `$TROUPE_CACHE_DIR` or `~/.cache/troupe` */
  readonly cacheDir?: string;
  /** @default 'mvn' */
  readonly mavenPath?: string;
  /** Progress lines for humans (the CLI prints them to stderr). */
  readonly onProgress?: (message: string) => void;
}

export interface KafkaJars {
  /** Folder with every runtime jar of the broker; use as `-cp '<dir>/*'`. */
  readonly dir: string;
  readonly jarCount: number;
  /** True when this call ran Maven; false when the cache was already complete. */
  readonly downloaded: boolean;
}

/** Returns the jar folder when it holds a complete download, else undefined. */
export async function readCompleteJars(dir: string): Promise<readonly string[] | undefined> {
  let marker: Marker;
  try {
    marker = JSON.parse(await readFile(join(dir, COMPLETE_MARKER), 'utf8')) as Marker;
  } catch {
    return undefined;
  }
  if (!Array.isArray(marker.jars) || marker.jars.length === 0) return undefined;
  const present = new Set(await readdir(dir));
  const jars: readonly string[] = marker.jars;
  return jars.every((jar) => present.has(jar)) ? jars : undefined;
}

/**
 * Makes sure the pinned broker's jars are in the cache, running Maven only when they are not.
 * Concurrent callers (parallel test runs) each download into a private folder and rename it into
 * place; the first rename wins and the others discard theirs, so nobody sees a half-filled folder.
 */
export async function ensureKafkaJars(options: EnsureKafkaJarsOptions = {}): Promise<KafkaJars> {
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  const dir = kafkaJarsDir(cacheDir, KAFKA_VERSION);
  const cached = await readCompleteJars(dir);
  if (cached) return { dir, jarCount: cached.length, downloaded: false };

  const mavenPath = options.mavenPath ?? 'mvn';
  options.onProgress?.(`resolving Apache Kafka ${KAFKA_VERSION} jars with Maven into ${dir} (first run only)`);
  await mkdir(cacheDir, { recursive: true });
  const partial = `${dir}.partial-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    const result = await runMaven(mavenPath, partial, dir);
    if (result.code !== 0) throw mavenFailure(result, dir);
    const jars = (await readdir(partial)).filter((name) => name.endsWith('.jar')).sort();
    if (jars.length === 0) throw mavenFailure(result, dir);
    const marker: Marker = { version: KAFKA_VERSION, jars };
    await writeFile(join(partial, COMPLETE_MARKER), JSON.stringify(marker, null, 2));
    await publish(partial, dir);
    const final = (await readCompleteJars(dir)) ?? jars;
    options.onProgress?.(`cached ${final.length} jars in ${dir}`);
    return { dir, jarCount: final.length, downloaded: true };
  } finally {
    await rm(partial, { recursive: true, force: true });
  }
}

async function runMaven(mavenPath: string, outputDir: string, finalDir: string): Promise<CommandResult> {
  const args = ['-q', '-B', '-f', KAFKA_POM, 'dependency:copy-dependencies', `-Dtroupe.jars.dir=${outputDir}`];
  try {
    return await runCommand(mavenPath, args, { cwd: dirname(KAFKA_POM) });
  } catch (cause) {
    throw new TestingError(
      'MAVEN_NOT_FOUND',
      `Could not run '${mavenPath}': Maven downloads the Kafka broker jars on the first run (into ${finalDir}). ` +
        'Install Maven 3.6+ (e.g. `apt-get install maven`) and put `mvn` on PATH, or point the tests at an existing cluster with KAFKA_BROKERS=host:port.',
      { cause },
    );
  }
}

function mavenFailure(result: CommandResult, dir: string): TestingError {
  const output = `${result.stdout}\n${result.stderr}`;
  const tail = output.trim().split('\n').slice(-20).join('\n');
  const offline = /offline|Could not (?:transfer|resolve)|UnknownHost|Connection (?:refused|timed out)|Network is unreachable/i.test(
    output,
  );
  const hint = offline
    ? `Maven could not download the broker (offline or no access to Maven Central?) and the jar cache ${dir} is empty. ` +
      'Run once with network access (or a Maven mirror in ~/.m2/settings.xml), or copy a filled cache folder there, or use KAFKA_BROKERS=host:port.'
    : `Maven failed to resolve the Kafka broker jars into ${dir} (exit ${String(result.code)}). Fix the error below and retry, or use KAFKA_BROKERS=host:port.`;
  return new TestingError('KAFKA_JARS_UNAVAILABLE', `${hint}\n--- maven output (tail) ---\n${tail}`);
}

async function publish(partial: string, dir: string): Promise<void> {
  try {
    await rename(partial, dir);
    return;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error;
  }
  // Another run finished first; keep its folder if complete, else replace the broken one.
  if (await readCompleteJars(dir)) return;
  await rm(dir, { recursive: true, force: true });
  await rename(partial, dir).catch(async (error: unknown) => {
    if (!(await isDirectory(dir))) throw error;
  });
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}
