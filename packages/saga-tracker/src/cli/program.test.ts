import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { runTrackerCli } from './program.js';

describe('troupe-tracker options', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });
  /** Runs an invocation that must be refused before anything starts: exit 2 and what stderr says. */
  const failure = async (argv: string[]): Promise<string> => {
    const err: string[] = [];
    const run = await runTrackerCli(argv, { out: () => undefined, err: (l) => err.push(l) });
    expect(run.tracker).toBeUndefined();
    expect(run.code).toBe(2);
    return err.join('\n');
  };

  it('requires brokers', async () => {
    vi.stubEnv('KAFKA_BROKERS', '');
    expect(await failure(['--topics', 'orders'])).toContain('troupe-tracker: no brokers: pass --brokers');
  });

  it('requires a connection string for the postgres store', async () => {
    vi.stubEnv('DATABASE_URL', '');
    expect(await failure(['--brokers', '127.0.0.1:9092', '--topics', 'orders', '--store', 'postgres'])).toContain(
      '--store postgres needs --postgres-url',
    );
  });

  it('rejects a bad store, port, pattern or broker list with the reason', async () => {
    expect(await failure(['--store', 'redis'])).toContain('Allowed choices are memory, postgres');
    expect(await failure(['--port', '70000'])).toContain('must be an integer from 0 to 65535');
    expect(await failure(['--topic-pattern', '(['])).toContain("--topic-pattern '([' is not a regular expression");
    expect(await failure(['--brokers', 'localhost'])).toContain("'localhost' is not host:port");
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
