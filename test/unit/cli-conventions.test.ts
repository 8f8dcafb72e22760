// Every Troupe command-line tool follows the same conventions (packages/schema-registry/src/cli/cli-kit.ts):
// --version, a description on every command, exit codes 0 ok / 1 failed / 2 usage, and errors as
// `<tool>: message` without `Error:` prefixes or stack traces unless --verbose. One suite, every tool.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { describe, expect, it, vi } from 'vitest';
import { buildTrackerCli } from '@troupe/saga-tracker';
import { buildSchemasCli, runCli, type CliIo } from '@troupe/schema-registry';
import { buildDlqCli, buildOutboxCli, buildSagaCli } from '@troupe/sdk';
import { buildKafkaCli, buildRegistryCli } from '@troupe/testing';

const version = (pkg: string): string =>
  (JSON.parse(readFileSync(new URL(`../../packages/${pkg}/package.json`, import.meta.url), 'utf8')) as { version: string }).version;

const tools: { name: string; pkg: string; build: (io: CliIo) => Command }[] = [
  { name: 'troupe-schemas', pkg: 'schema-registry', build: buildSchemasCli },
  { name: 'troupe-dlq', pkg: 'sdk', build: buildDlqCli },
  { name: 'troupe-outbox', pkg: 'sdk', build: buildOutboxCli },
  { name: 'troupe-saga', pkg: 'sdk', build: buildSagaCli },
  { name: 'troupe-tracker', pkg: 'saga-tracker', build: (io) => buildTrackerCli(io, () => undefined) },
  { name: 'troupe-kafka', pkg: 'testing', build: buildKafkaCli },
  { name: 'troupe-registry', pkg: 'testing', build: buildRegistryCli },
];

async function run(build: (io: CliIo) => Command, ...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(build({ out: (l) => out.push(l), err: (l) => err.push(l) }), argv);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const allCommands = (c: Command): Command[] => [c, ...c.commands.flatMap(allCommands)];

describe.each(tools)('$name', ({ name, pkg, build }) => {
  it('prints its package version with --version and -V, exit 0', async () => {
    expect(await run(build, '--version')).toEqual({ code: 0, out: version(pkg), err: '' });
    expect((await run(build, '-V')).out).toBe(version(pkg));
  });

  it('describes itself and every subcommand and option in --help, exit 0', async () => {
    const help = await run(build, '--help');
    expect(help.code).toBe(0);
    expect(help.out).toContain(`Usage: ${name}`);
    expect(help.out).toContain('Exit codes: 0 ok, 1 the check or operation failed, 2 wrong usage or input.');
    for (const command of allCommands(build({ out: () => undefined, err: () => undefined }))) {
      expect(command.description(), `${name} ${command.name()} has no description`).not.toBe('');
      for (const option of command.options) expect(option.description, `${name} ${command.name()} ${option.flags}`).not.toBe('');
    }
  });

  it('rejects an unknown option with exit 2 and one plain line naming the tool', async () => {
    const r = await run(build, '--no-such-option');
    expect(r.code).toBe(2);
    expect(r.err.split('\n')[0]).toBe(`${name}: unknown option '--no-such-option'`);
    expect(r.err).not.toMatch(/Error:|\n\s+at /);
  });
});

describe('errors an action throws', () => {
  const failing = (error: unknown) => (io: CliIo) => {
    const c = buildSchemasCli(io);
    c.command('boom')
      .description('fails')
      .action(() => {
        throw error;
      });
    return c;
  };

  it('print as `<tool>: message` with a hint, exit 1, and with --verbose add the stack and causes', async () => {
    const error = new Error('disk on fire', { cause: new Error('smoke') });
    const plain = await run(failing(error), 'boom');
    expect(plain).toEqual({ code: 1, out: '', err: 'troupe-schemas: disk on fire\n(run again with --verbose for the stack trace)' });

    const verbose = await run(failing(error), 'boom', '--verbose');
    expect(verbose.code).toBe(1);
    expect(verbose.err).toMatch(/^troupe-schemas: disk on fire\n\s+at /);
    expect(verbose.err).toMatch(/\ncaused by: smoke\n\s+at /);
    expect(verbose.err).not.toContain('Error:');
  });

  it('print a TroupeError with its code and no hint (its message says what to do)', async () => {
    const { SchemaRegistryError } = await import('@troupe/schema-registry');
    const r = await run(failing(new SchemaRegistryError('REGISTRY_UNAVAILABLE', 'registry at http://x is down: start it')), 'boom');
    expect(r).toEqual({ code: 1, out: '', err: 'troupe-schemas: REGISTRY_UNAVAILABLE: registry at http://x is down: start it' });
  });
});

describe('troupe-dlq --reason', () => {
  it('offers exactly the dead-letter reasons of the SDK', async () => {
    const { DEAD_LETTER_REASONS } = await import('@troupe/sdk');
    const help = await run(buildDlqCli, 'list', '--help');
    for (const reason of DEAD_LETTER_REASONS) expect(help.out).toContain(reason);
    vi.stubEnv('KAFKA_BROKERS', '');
    const bad = await run(buildDlqCli, 'list', 'orders.dlq', '--reason', 'BORED');
    vi.unstubAllEnvs();
    expect(bad.code).toBe(2);
    expect(bad.err).toContain(`Allowed choices are ${DEAD_LETTER_REASONS.join(', ')}`);
  });

  it('is a usage error without brokers', async () => {
    vi.stubEnv('KAFKA_BROKERS', '');
    const r = await run(buildDlqCli, 'list', 'orders.dlq');
    vi.unstubAllEnvs();
    expect(r.code).toBe(2);
    expect(r.err).toContain('troupe-dlq: no brokers: pass --brokers');
  });
});
