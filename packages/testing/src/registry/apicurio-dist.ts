import { randomBytes } from 'node:crypto';
import { access, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TestingError } from '../kafka/errors.js';
import { runCommand, type CommandResult } from '../kafka/java.js';
import { defaultCacheDir } from '../kafka/paths.js';
import { APICURIO_RUN_JAR, APICURIO_VERSION } from './apicurio-version.js';

// src/registry/*.ts and dist/registry/*.js sit at the same depth, so one relative path serves both.
const packageRoot = fileURLToPath(new URL('../../', import.meta.url));

/** `registry/pom.xml` shipped with the package: pins the Apicurio Registry distribution. */
export const APICURIO_POM = join(packageRoot, 'registry', 'pom.xml');

const COMPLETE_MARKER = '.troupe-complete';

export interface EnsureApicurioOptions {
  /** @default $TROUPE_CACHE_DIR or ~/.cache/troupe */
  readonly cacheDir?: string;
  /** @default 'mvn' */
  readonly mavenPath?: string;
  readonly onProgress?: (message: string) => void;
}

/** The unpacked Quarkus application: the runner jar (`APICURIO_RUN_JAR`) with its `lib/` folder. */
export interface ApicurioDist {
  readonly dir: string;
  readonly runJar: string;
  readonly downloaded: boolean;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/**
 * Makes sure Apicurio Registry is unpacked in the cache, resolving it with Maven on first use
 * (about 110 MB). Concurrent callers unpack into private folders and rename into place; the first
 * rename wins, so nobody starts from a half-unpacked folder.
 */
export async function ensureApicurio(options: EnsureApicurioOptions = {}): Promise<ApicurioDist> {
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  const dir = join(cacheDir, `apicurio-${APICURIO_VERSION}`);
  const runJar = join(dir, APICURIO_RUN_JAR);
  if (await exists(join(dir, COMPLETE_MARKER))) {
    if (await exists(runJar)) return { dir, runJar, downloaded: false };
    // Marked complete but without this version's runner jar (e.g. unpacked while pom.xml and
    // APICURIO_VERSION disagreed): unmark it, so the rename below replaces the folder.
    options.onProgress?.(`${dir} has no ${APICURIO_RUN_JAR}; resolving it again`);
    await rm(join(dir, COMPLETE_MARKER), { force: true });
  }

  options.onProgress?.(`resolving Apicurio Registry ${APICURIO_VERSION} with Maven into ${dir} (first run only)`);
  await mkdir(cacheDir, { recursive: true });
  const partial = `${dir}.partial-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    const mavenPath = options.mavenPath ?? 'mvn';
    let result: CommandResult;
    try {
      result = await runCommand(mavenPath, ['-q', '-B', '-f', APICURIO_POM, 'dependency:unpack', `-Dtroupe.registry.dir=${partial}`], {
        cwd: dirname(APICURIO_POM),
      });
    } catch (cause) {
      throw new TestingError(
        'MAVEN_NOT_FOUND',
        `Could not run '${mavenPath}': Maven downloads Apicurio Registry on the first run (into ${dir}). ` +
          'Install Maven 3.6+ and put `mvn` on PATH, or point the tests at a running registry with SCHEMA_REGISTRY_URL=<url>.',
        { cause },
      );
    }
    if (result.code !== 0 || !(await exists(join(partial, APICURIO_RUN_JAR)))) {
      const tail = `${result.stdout}\n${result.stderr}`.trim().split('\n').slice(-20).join('\n');
      throw new TestingError(
        'REGISTRY_UNAVAILABLE',
        `Maven could not resolve io.apicurio:apicurio-registry-app:${APICURIO_VERSION}:tar.gz:all into ${dir} (exit ${String(result.code)}). ` +
          `Run once with access to Maven Central (or a mirror in ~/.m2/settings.xml), or set SCHEMA_REGISTRY_URL to a running registry.\n--- maven output (tail) ---\n${tail}`,
      );
    }
    await writeFile(join(partial, COMPLETE_MARKER), `${APICURIO_VERSION}\n`);
    try {
      await rename(partial, dir);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error;
      // Another run finished first: keep a complete folder, replace a broken one.
      if (!(await exists(join(dir, COMPLETE_MARKER)))) {
        await rm(dir, { recursive: true, force: true });
        await rename(partial, dir);
      }
    }
    options.onProgress?.(`cached Apicurio Registry in ${dir}`);
    return { dir, runJar, downloaded: true };
  } finally {
    await rm(partial, { recursive: true, force: true });
  }
}
