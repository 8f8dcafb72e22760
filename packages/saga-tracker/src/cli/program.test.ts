import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommanderError } from 'commander';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { runTrackerCli } from './program.js';

describe('troupe-tracker options', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });
  const failure = async (argv: string[]): Promise<string> => {
    const stderr: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      stderr.push(String(chunk));
      return true;
    });
    const err = await runTrackerCli(argv).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(CommanderError);
    return stderr.join('');
  };

  it('requires brokers', async () => {
    vi.stubEnv('KAFKA_BROKERS', '');
    expect(await failure(['--topics', 'orders'])).toContain('--brokers (or KAFKA_BROKERS) is required');
    vi.unstubAllEnvs();
  });

  it('requires a connection string for the postgres store', async () => {
    vi.stubEnv('DATABASE_URL', '');
    expect(await failure(['--brokers', '127.0.0.1:9092', '--topics', 'orders', '--store', 'postgres'])).toContain('--store postgres needs --postgres-url');
    vi.unstubAllEnvs();
  });

  it('rejects a bad store, port or pattern with the reason', async () => {
    expect(await failure(['--store', 'redis'])).toContain("Allowed choices are memory, postgres");
    expect(await failure(['--port', '70000'])).toContain('must be an integer from 0 to 65535');
    expect(await failure(['--topic-pattern', '(['])).toContain("--topic-pattern '([' is not a regular expression");
  });

  it('needs something to read', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'tracker-cli-'));
    try {
      expect(await failure(['--brokers', '127.0.0.1:9092', '--schemas', empty])).toContain('nothing to read');
    } finally {
      await rm(empty, { recursive: true });
    }
  });
});
