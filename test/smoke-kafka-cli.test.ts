import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel } from 'kafkajs';
import { isAlive } from '@troupe/testing';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = join(root, 'packages/testing/src/cli/troupe-kafka.ts');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function troupeKafka(stateDir: string, ...args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', cli, '--state-dir', stateDir, ...args], { cwd: root });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const lastLine = (text: string): string => text.trimEnd().split('\n').at(-1) ?? '';

describe('troupe-kafka CLI (npm run kafka:start / kafka:stop / kafka:status)', () => {
  let stateDir = '';
  afterAll(async () => {
    // Whatever happened above, leave no JVM behind.
    if (stateDir) {
      await troupeKafka(stateDir, 'stop');
      await rm(stateDir, { recursive: true, force: true });
    }
  });

  it('starts a background broker, reports it, and stops it leaving no JVM', async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'troupe-kafka-cli-'));
    const start = await troupeKafka(stateDir, 'start');
    expect(start.code, start.stderr).toBe(0);
    const line = lastLine(start.stdout);
    expect(line).toMatch(/^KAFKA_BROKERS=127\.0\.0\.1:\d+$/);
    const brokers = line.slice('KAFKA_BROKERS='.length);

    // The CLI process has exited; the broker keeps serving kafkajs.
    const admin = new Kafka({ brokers: [brokers], logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    expect((await admin.describeCluster()).brokers).toHaveLength(1);
    await admin.disconnect();

    const again = await troupeKafka(stateDir, 'start');
    expect(again.code).toBe(0);
    expect(lastLine(again.stdout)).toBe(line);
    expect(again.stderr).toContain('already running');

    const status = await troupeKafka(stateDir, 'status');
    expect(status.code).toBe(0);
    expect(lastLine(status.stdout)).toBe(line);

    const { pid } = JSON.parse(await readFile(join(stateDir, 'background.json'), 'utf8')) as { pid: number };
    expect(isAlive(pid)).toBe(true);
    const stop = await troupeKafka(stateDir, 'stop');
    expect(stop.code).toBe(0);
    // `stop` returns only once the JVM has exited.
    expect(isAlive(pid)).toBe(false);

    const after = await troupeKafka(stateDir, 'status');
    expect(after.code).toBe(1);
    expect(after.stdout).toBe('');
  });

  it('rejects a bad option with a usage error', async () => {
    // Rejected while parsing: the state dir is never touched.
    const run = await troupeKafka(join(tmpdir(), 'troupe-kafka-cli-never-created'), 'start', '--port', 'abc');
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("troupe-kafka: option '--port <port>' argument 'abc' is invalid. expected an integer >= 1, got 'abc'");
  });
});
