import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupStaleKafkaRuns, isAlive, waitFor } from '@troupe/testing';

const root = fileURLToPath(new URL('..', import.meta.url));

// A test process that starts a broker and then ends in one of several ways without stop().
const childSource = (stateDir: string): string => `
import { LocalKafka } from ${JSON.stringify(join(root, 'packages/testing/src/index.ts'))};
const kafka = await LocalKafka.start({ stateDir: ${JSON.stringify(stateDir)}, warmUp: false });
process.stdout.write(JSON.stringify({ pid: kafka.pid }) + '\\n');
// Ends (without stop()) when the parent writes "exit"; otherwise lives until it is signalled.
process.stdin.on('data', (d) => { if (String(d).includes('exit')) process.exit(0); });
setInterval(() => undefined, 1000);
`;

describe('a test process that dies leaves no broker JVM behind', () => {
  let dir = '';
  let script = '';
  const stateDir = (): string => join(dir, 'state');
  const jvms: number[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'troupe-orphan-'));
    script = join(dir, 'child.mts');
    await writeFile(script, childSource(stateDir()));
  });
  afterAll(async () => {
    for (const pid of jvms) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  async function startChild(): Promise<{ child: ChildProcess; jvm: number }> {
    const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: root, stdio: ['pipe', 'pipe', 'inherit'] });
    const jvm = await new Promise<number>((resolve, reject) => {
      let out = '';
      child.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('\n')) resolve((JSON.parse(out) as { pid: number }).pid);
      });
      child.once('exit', (code) => reject(new Error(`child exited (${String(code)}) before reporting its broker`)));
    });
    jvms.push(jvm);
    expect(isAlive(jvm)).toBe(true);
    return { child, jvm };
  }

  const exited = (child: ChildProcess): Promise<void> =>
    new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));

  it('kills the JVM when the process exits without stopping it', async () => {
    const { child, jvm } = await startChild();
    child.stdin?.write('exit\n');
    await exited(child);
    expect(child.exitCode).toBe(0);
    await waitFor(() => !isAlive(jvm), { description: `JVM ${jvm} to be gone after its parent exited` });
  });

  it('kills the JVM when the process is terminated by SIGTERM', async () => {
    const { child, jvm } = await startChild();
    child.kill('SIGTERM');
    await exited(child);
    expect(child.signalCode).toBe('SIGTERM');
    await waitFor(() => !isAlive(jvm), { description: `JVM ${jvm} to be gone after SIGTERM of its parent` });
  });

  it('sweeps the JVM of a SIGKILLed process on the next start', async () => {
    const { child, jvm } = await startChild();
    child.kill('SIGKILL');
    await exited(child);
    // Nothing could run in the killed process: the JVM is orphaned until a sweep.
    expect(isAlive(jvm)).toBe(true);
    expect(await cleanupStaleKafkaRuns(stateDir())).toBe(1);
    await waitFor(() => !isAlive(jvm), { description: `orphaned JVM ${jvm} to be swept` });
    expect(await readdir(join(stateDir(), 'runs'))).toEqual([]);
  });
});
