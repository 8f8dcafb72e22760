// The README's promise, checked the way a new user meets it: clone the repository, run the set-up
// the README names (`node scripts/setup.mjs`: npm ci + tsc -b), then every documented tool as
// `npx <tool> --help` / `--version` in a subprocess. In-process tests cannot catch a bin that npm
// never linked (issue 9: bins pointed into dist/, which npm ci runs before).
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'troupe-fresh-clone-'));
const clone = join(work, 'troupe');

// A user's shell: no broker or registry configured, no npm lifecycle variables of the test run.
const env: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries(process.env).filter(
    ([k]) => !k.startsWith('npm_') && !['KAFKA_BROKERS', 'SCHEMA_REGISTRY_URL', 'NODE_OPTIONS'].includes(k),
  ),
);
// The dependencies are in npm's cache already (this checkout installed them): no network needed.
env['npm_config_prefer_offline'] = 'true';

function sh(cmd: string, args: string[], cwd = clone): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout: 600_000 });
  if (r.error) throw r.error;
  return r;
}

/** The tools the root README documents (`Command-line tools: ...`) and each one's package. */
function documentedTools(): { tool: string; pkg: string }[] {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const line = /Command-line tools: ([^(]+)\(/.exec(readme)?.[1];
  if (line === undefined) throw new Error('README.md no longer lists "Command-line tools: ..."');
  const tools = [...line.matchAll(/`([a-z-]+)`/g)].map((m) => m[1] as string);
  const binOf = new Map<string, string>();
  for (const pkg of ['schema-registry', 'sdk', 'saga-tracker', 'testing']) {
    const json = JSON.parse(readFileSync(join(root, 'packages', pkg, 'package.json'), 'utf8')) as { bin?: Record<string, string> };
    for (const bin of Object.keys(json.bin ?? {})) binOf.set(bin, pkg);
  }
  // Every bin is documented and every documented tool is a bin.
  expect(tools.sort()).toEqual([...binOf.keys()].sort());
  return tools.map((tool) => ({ tool, pkg: binOf.get(tool) as string }));
}

const tools = documentedTools();

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('from a fresh clone, as the README says', () => {
  beforeAll(() => {
    const cloned = sh('git', ['clone', '--quiet', root, clone], work);
    expect(cloned.status, cloned.stderr).toBe(0);
  });

  it('before the set-up, a bin says how to build instead of failing obscurely', () => {
    const r = sh(process.execPath, ['packages/sdk/bin/troupe-dlq.js', '--help']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('troupe-dlq: not built yet');
    expect(r.stderr).toContain('npm run build');
  });

  it('node scripts/setup.mjs installs and builds', () => {
    const r = sh(process.execPath, ['scripts/setup.mjs']);
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
  }, 900_000);

  it.each(tools)('npx $tool --help and --version work (exit 0)', ({ tool, pkg }) => {
    const help = sh('npx', [tool, '--help']);
    expect(help.status, help.stderr).toBe(0);
    expect(help.stdout).toContain(`Usage: ${tool}`);
    expect(help.stdout).toContain('Exit codes: 0 ok');
    expect(help.stderr).toBe('');

    const version = sh('npx', [tool, '--version']);
    const { version: expected } = JSON.parse(readFileSync(join(clone, 'packages', pkg, 'package.json'), 'utf8')) as { version: string };
    expect(version.status).toBe(0);
    expect(version.stdout.trim()).toBe(expected);
  });

  it('exit codes are the same in every tool: 0 ok, 1 check failed, 2 usage or input error', () => {
    const ok = sh('npx', ['troupe-schemas', 'validate']);
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^ok: \d+ event types/);

    const notRunning = sh('npx', ['troupe-kafka', '--state-dir', join(work, 'no-broker'), 'status']);
    expect(notRunning.status).toBe(1);
    expect(notRunning.stderr).toContain('not running');

    const noBrokers = sh('npx', ['troupe-dlq', 'list', 'orders.dlq']);
    expect(noBrokers.status).toBe(2);
    expect(noBrokers.stderr).toMatch(/^troupe-dlq: no brokers: pass --brokers/);

    const badReason = sh('npx', ['troupe-dlq', 'list', 'orders.dlq', '--reason', 'BORED']);
    expect(badReason.status).toBe(2);
    expect(badReason.stderr).toContain('Allowed choices are MALFORMED_ENVELOPE');

    const unknown = sh('npx', ['troupe-tracker', '--frobnicate']);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/^troupe-tracker: unknown option '--frobnicate'/);
    for (const r of [noBrokers, badReason, unknown]) expect(r.stderr).not.toMatch(/Error:|\n\s+at /);
  });
});
