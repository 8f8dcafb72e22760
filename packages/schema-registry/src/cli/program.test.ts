import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runSchemasCli } from './program.js';

const root = join(import.meta.dirname, '../../../..');
let dir: string;

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runSchemasCli(argv, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

async function avsc(name: string, fields: unknown[]): Promise<string> {
  const file = join(dir, `${name}.avsc`);
  await writeFile(file, JSON.stringify({ type: 'record', name: 'E', namespace: 'com.acme.t', fields }));
  return file;
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'troupe-cli-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('troupe-schemas', () => {
  it('validate: exit 0 on the repository schemas', async () => {
    const r = await run('--schemas', join(root, 'schemas'), 'validate');
    expect(r.code).toBe(0);
    expect(r.out).toContain('13 event types, 2 saga contracts');
  });

  it('validate: exit 1 naming file and path of each problem', async () => {
    await cp(join(root, 'schemas'), join(dir, 's'), { recursive: true });
    await writeFile(join(dir, 's/payments/PaymentCharged.avsc'), '{ "type": "record", ');
    const r = await run('--schemas', join(dir, 's'), 'validate');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/s\/payments\/PaymentCharged\.avsc:1: is not valid JSON/);
    // The contract names the now-missing event: reported at its line and path too.
    expect(r.err).toMatch(
      /s\/sagas\/order-fulfillment\.saga\.yaml:\d+: steps\[0\]\.completed: names unknown event type com\.acme\.payments\.PaymentCharged/,
    );
  });

  it('compat: exit 0 compatible, 1 incompatible with the reason on stdout, 2 on bad input', async () => {
    const v1 = await avsc('v1', [{ name: 'a', type: 'int' }]);
    const v2 = await avsc('v2', [
      { name: 'a', type: 'int' },
      { name: 'b', type: 'string' },
    ]);
    expect(await run('compat', '--level', 'FORWARD', v1, v2)).toMatchObject({ code: 0, out: 'compatible (FORWARD)' });
    const bad = await run('compat', '--level', 'BACKWARD', v1, v2);
    expect(bad.code).toBe(1);
    expect(bad.out).toContain("version 1, new reads old: field 'b' is read without a default");
    expect((await run('compat', '--level', 'SIDEWAYS', v1, v2)).code).toBe(2);
    await writeFile(join(dir, 'broken.avsc'), '{"type": "record", "name": "E", "fields": [{"name": "a", "type": "integer"}]}');
    const invalid = await run('compat', v1, join(dir, 'broken.avsc'));
    expect(invalid.code).toBe(2);
    expect(invalid.err).toContain('broken.avsc is not a valid Avro schema');
    expect((await run('compat', v1, join(dir, 'missing.avsc'))).code).toBe(2);
  });

  it('codegen --check: exit 1 when the file is stale, 0 after codegen', async () => {
    const out = join(dir, 'events.ts');
    await writeFile(out, '// old\n');
    const stale = await run('--schemas', join(root, 'schemas'), 'codegen', '--check', '--out', out);
    expect(stale.code).toBe(1);
    expect(stale.err).toContain('is stale');
    expect((await run('--schemas', join(root, 'schemas'), 'codegen', '--out', out)).code).toBe(0);
    expect((await run('--schemas', join(root, 'schemas'), 'codegen', '--check', '--out', out)).code).toBe(0);
  });
});
