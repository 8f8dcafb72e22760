// The local Apicurio launcher itself: two registries side by side, a clean stop, and no JVM left
// behind when the test process that owned one is killed outright.
import { spawn } from 'node:child_process';
import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalSchemaRegistry, isAlive, waitFor } from '@troupe/testing';
import { sweepOrphanRegistries } from '../packages/testing/src/registry/orphan-sweep.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'troupe-local-registry-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('LocalSchemaRegistry', () => {
  it('runs a second registry beside the test run’s one, answers the Confluent API, and stops', async () => {
    const reg = await LocalSchemaRegistry.start({ logFile: join(dir, 'second.log') });
    try {
      expect(reg.url).not.toBe(process.env['SCHEMA_REGISTRY_URL']);
      const config = (await (await fetch(`${reg.url}/config`)).json()) as { compatibilityLevel: string };
      expect(config.compatibilityLevel).toBe('BACKWARD');
      expect(await (await fetch(`${reg.url}/subjects`)).json()).toEqual([]);
    } finally {
      await reg.stop();
    }
    expect(isAlive(reg.pid)).toBe(false);
  });

  it('kills the registry of an owner that died without cleaning up', async () => {
    // A separate Node process owns this registry; it imports the launcher's source by path.
    const script = join(dir, 'owner.mts');
    const launcher = join(import.meta.dirname, '../packages/testing/src/registry/local-registry.ts');
    await writeFile(
      script,
      `import { LocalSchemaRegistry } from ${JSON.stringify(launcher)};\nconst r = await LocalSchemaRegistry.start({ logFile: ${JSON.stringify(join(dir, 'orphan.log'))} });\nprocess.stdout.write(JSON.stringify({ pid: r.pid }) + '\\n');\nsetInterval(() => undefined, 1000);\n`,
    );
    const owner = spawn(process.execPath, ['--import', 'tsx', script], {
      cwd: join(import.meta.dirname, '..'),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const jvm = await new Promise<number>((resolve, reject) => {
      let out = '';
      owner.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        const line = out.split('\n').find((l) => l.startsWith('{'));
        if (line) resolve((JSON.parse(line) as { pid: number }).pid);
      });
      owner.once('exit', (code) => reject(new Error(`owner exited with ${String(code)} before the registry started`)));
    });
    expect(isAlive(jvm)).toBe(true);
    owner.kill('SIGKILL');
    await waitFor(() => owner.exitCode !== null || owner.signalCode !== null, { description: 'owner to die' });
    // SIGKILL runs no exit hook: the JVM outlives its owner until someone sweeps.
    expect(isAlive(jvm)).toBe(true);
    const killed = await sweepOrphanRegistries();
    // Another test run starting a registry right now may have swept it first; either way it dies.
    expect(killed.includes(jvm) || !isAlive(jvm)).toBe(true);
    await waitFor(() => !isAlive(jvm), { description: 'orphaned registry JVM to die' });
  });
});
