// Hostile input for the command-line tools (issue 13, fault 5): every command and subcommand of
// every tool, given an unknown option, an option without its value or an unknown subcommand, ends
// with a usage error (exit 2, one plain line naming the tool) — never a crash or a stack trace.
import type { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildTrackerCli } from '@troupe/saga-tracker';
import { buildSchemasCli, runCli, type CliIo } from '@troupe/schema-registry';
import { buildDlqCli, buildOutboxCli } from '@troupe/sdk';
import { buildKafkaCli, buildRegistryCli } from '@troupe/testing';

const tools: { name: string; build: (io: CliIo) => Command }[] = [
  { name: 'troupe-schemas', build: buildSchemasCli },
  { name: 'troupe-dlq', build: buildDlqCli },
  { name: 'troupe-outbox', build: buildOutboxCli },
  { name: 'troupe-tracker', build: (io) => buildTrackerCli(io, () => undefined) },
  { name: 'troupe-kafka', build: buildKafkaCli },
  { name: 'troupe-registry', build: buildRegistryCli },
];

async function run(build: (io: CliIo) => Command, argv: readonly string[]): Promise<{ code: number; err: string }> {
  const err: string[] = [];
  const code = await runCli(build({ out: () => undefined, err: (l) => err.push(l) }), [...argv]);
  return { code, err: err.join('\n') };
}

/** Every command of a tool with the words that reach it (`[]` = the tool itself). */
function commandPaths(c: Command, path: string[] = []): { path: string[]; command: Command }[] {
  return [{ path, command: c }, ...c.commands.flatMap((sub) => commandPaths(sub, [...path, sub.name()]))];
}

/** Malformed argument lists for one command. */
function malformed(path: string[], command: Command): string[][] {
  const cases = [
    [...path, '--no-such-option'],
    [...path, '--no-such-option=1', 'extra'],
  ];
  for (const option of command.options) {
    if (option.required && option.long !== undefined) cases.push([...path, option.long]);
  }
  if (command.commands.length > 0) cases.push([...path, 'no-such-command']);
  return cases;
}

describe.each(tools)('$name given malformed arguments', ({ name, build }) => {
  // No broker, registry or database is ever reached: a usage error comes first.
  beforeAll(() => {
    for (const v of ['KAFKA_BROKERS', 'SCHEMA_REGISTRY_URL', 'DATABASE_URL']) vi.stubEnv(v, '');
  });
  afterAll(() => vi.unstubAllEnvs());

  const all = commandPaths(build({ out: () => undefined, err: () => undefined })).flatMap(({ path, command }) => malformed(path, command));

  it.each(all.map((argv) => [argv.join(' '), argv] as const))('%s → exit 2 with a plain usage line', async (_label, argv) => {
    const r = await run(build, argv);
    expect(r.code, r.err).toBe(2);
    expect(r.err.split('\n')[0]).toMatch(new RegExp(`^${name}: `));
    expect(r.err).not.toMatch(/\n\s+at |TypeError|RangeError/);
  });
});
