// One table of schema changes, each judged at every compatibility level by Confluent's documented
// rules (BACKWARD: the new schema reads data written with the old; FORWARD: the old reads the new;
// FULL: both; _TRANSITIVE: against every registered version, not just the latest). The same table
// is asserted against `troupe-schemas compat` and against a real registry (Apicurio's Confluent
// API: PUT /config/{subject}, then register).
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  COMPATIBILITY_LEVELS,
  runSchemasCli,
  type AvroField,
  type AvroRecordSchema,
  type CompatibilityLevel,
} from '@troupe/schema-registry';

type Verdicts = Record<CompatibilityLevel, boolean>;

interface Case {
  readonly change: string;
  /** Registered versions, oldest first, then the candidate. */
  readonly versions: readonly AvroRecordSchema[];
  readonly expected: Verdicts;
}

const record = (...fields: AvroField[]): AvroRecordSchema => ({ type: 'record', name: 'Changed', namespace: 'com.acme.matrix', fields });
const id: AvroField = { name: 'orderId', type: 'string' };
const status = (symbols: string[], dflt?: string): AvroField => ({
  name: 'status',
  type: { type: 'enum', name: 'Status', symbols, ...(dflt === undefined ? {} : { default: dflt }) },
});
const address = (...fields: AvroField[]): AvroField => ({ name: 'address', type: { type: 'record', name: 'Address', fields } });

/** Verdicts for one step old → new: `backward` = new reads old, `forward` = old reads new. */
function oneStep(backward: boolean, forward: boolean): Verdicts {
  return {
    BACKWARD: backward,
    BACKWARD_TRANSITIVE: backward,
    FORWARD: forward,
    FORWARD_TRANSITIVE: forward,
    FULL: backward && forward,
    FULL_TRANSITIVE: backward && forward,
    NONE: true,
  };
}

const CASES: readonly Case[] = [
  {
    change: 'add field with default',
    versions: [record(id), record(id, { name: 'note', type: 'string', default: '' })],
    expected: oneStep(true, true),
  },
  {
    change: 'add field without default',
    versions: [record(id), record(id, { name: 'note', type: 'string' })],
    expected: oneStep(false, true),
  },
  {
    change: 'remove field with default',
    versions: [record(id, { name: 'note', type: 'string', default: '' }), record(id)],
    expected: oneStep(true, true),
  },
  {
    change: 'remove field without default',
    versions: [record(id, { name: 'note', type: 'string' }), record(id)],
    expected: oneStep(true, false),
  },
  {
    change: 'int → long',
    versions: [record(id, { name: 'qty', type: 'int' }), record(id, { name: 'qty', type: 'long' })],
    expected: oneStep(true, false),
  },
  {
    change: 'long → int',
    versions: [record(id, { name: 'qty', type: 'long' }), record(id, { name: 'qty', type: 'int' })],
    expected: oneStep(false, true),
  },
  {
    change: 'enum symbol added',
    versions: [record(id, status(['OPEN'])), record(id, status(['OPEN', 'CLOSED']))],
    expected: oneStep(true, false),
  },
  {
    // Avro 1.9+: a reader enum's default stands in for symbols it does not know.
    change: 'enum symbol added, enum has a default',
    versions: [record(id, status(['OPEN', 'UNKNOWN'], 'UNKNOWN')), record(id, status(['OPEN', 'CLOSED', 'UNKNOWN'], 'UNKNOWN'))],
    expected: oneStep(true, true),
  },
  {
    change: 'enum symbol removed',
    versions: [record(id, status(['OPEN', 'CLOSED'])), record(id, status(['OPEN']))],
    expected: oneStep(false, true),
  },
  {
    change: 'field widened to union with null',
    versions: [record(id, { name: 'note', type: 'string' }), record(id, { name: 'note', type: ['null', 'string'], default: null })],
    expected: oneStep(true, false),
  },
  {
    change: 'rename with alias',
    versions: [record(id, { name: 'note', type: 'string' }), record(id, { name: 'comment', type: 'string', aliases: ['note'] })],
    expected: oneStep(true, false),
  },
  {
    change: 'nested record gains a field without default',
    versions: [
      record(id, address({ name: 'city', type: 'string' })),
      record(id, address({ name: 'city', type: 'string' }, { name: 'zip', type: 'string' })),
    ],
    expected: oneStep(false, true),
  },
  {
    change: 'nested record field type changed string → int',
    versions: [record(id, address({ name: 'city', type: 'string' })), record(id, address({ name: 'city', type: 'int' }))],
    expected: oneStep(false, false),
  },
  {
    // v3 reads v2 (which has the field) but not v1 (which lacks it): only transitive levels see it.
    change: 'field loses its default after a version without the field (3 versions)',
    versions: [record(id), record(id, { name: 'note', type: 'string', default: '' }), record(id, { name: 'note', type: 'string' })],
    expected: { ...oneStep(true, true), BACKWARD_TRANSITIVE: false, FULL_TRANSITIVE: false },
  },
  {
    // v1 requires the field, v2 gives it a default, v3 drops it: v2 can read v3, v1 cannot.
    change: 'field without default dropped after a version that gave it one (3 versions)',
    versions: [record(id, { name: 'note', type: 'string' }), record(id, { name: 'note', type: 'string', default: '' }), record(id)],
    expected: { ...oneStep(true, true), FORWARD_TRANSITIVE: false, FULL_TRANSITIVE: false },
  },
];

const table = CASES.flatMap((c) => COMPATIBILITY_LEVELS.map((level) => ({ ...c, level, compatible: c.expected[level] })));

describe('compatibility matrix: troupe-schemas compat', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'troupe-matrix-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it.each(table)('$change at $level → compatible=$compatible', async ({ versions, level, compatible }) => {
    const files: string[] = [];
    for (const [i, v] of versions.entries()) {
      const file = join(dir, `${randomBytes(4).toString('hex')}-v${i + 1}.avsc`);
      await writeFile(file, JSON.stringify(v));
      files.push(file);
    }
    const out: string[] = [];
    const code = await runSchemasCli(['compat', '--level', level, ...files], { out: (l) => out.push(l), err: (l) => out.push(l) });
    expect(code, out.join('\n')).toBe(compatible ? 0 : 1);
    if (!compatible) expect(out.join('\n')).toMatch(/field '|enum |type changed/);
  });
});

describe('compatibility matrix: real registry (Confluent REST API)', () => {
  const url = process.env['SCHEMA_REGISTRY_URL'];
  const api = async (method: string, path: string, body?: unknown): Promise<{ status: number; body: string }> => {
    if (!url) throw new Error('SCHEMA_REGISTRY_URL is not set: the integration global setup should have started a registry.');
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: await res.text() };
  };

  /**
   * What a subject-level NONE leaves in force. Confluent (and Apicurio 3.3): NONE, no checks.
   * Apicurio 3.0 stores NONE by deleting the subject's rule, so the global level applies instead
   * (BACKWARD in our local registry): see docs/adr/0002-apicurio-as-test-registry.md.
   */
  let noneEnforces: CompatibilityLevel = 'NONE';
  beforeAll(async () => {
    if (!url) return;
    const info = await fetch(new URL('/apis/registry/v3/system/info', url)).then(
      async (res) => (res.ok ? ((await res.json()) as { version?: string }) : undefined),
      () => undefined,
    );
    if (info?.version?.startsWith('3.0.') !== true) return;
    const global = (JSON.parse((await api('GET', '/config')).body) as { compatibilityLevel: CompatibilityLevel }).compatibilityLevel;
    noneEnforces = global;
  });

  it.each(table)('$change at $level → Confluent says compatible=$compatible', async ({ versions, level, compatible, expected }) => {
    const subject = `matrix-${randomBytes(6).toString('hex')}-com.acme.matrix.Changed`;
    const [first, ...rest] = versions;
    const history = rest.slice(0, -1);
    const candidate = versions[versions.length - 1];
    // History is registered at level NONE; only the candidate is judged at the level under test.
    // (On Apicurio 3.0 NONE means the global level, which every history step here passes.) The
    // first version goes in before the subject-level NONE: Apicurio 3.0 answers 404 to NONE for a
    // subject that has neither versions nor a level of its own (Confluent accepts it), and a
    // subject's first version is never checked anyway.
    const created = await api('POST', `/subjects/${subject}/versions`, { schema: JSON.stringify(first) });
    expect(created.status, created.body).toBe(200);
    expect((await api('PUT', `/config/${subject}`, { compatibility: 'NONE' })).status).toBe(200);
    for (const v of history) {
      const r = await api('POST', `/subjects/${subject}/versions`, { schema: JSON.stringify(v) });
      expect(r.status, r.body).toBe(200);
    }
    expect((await api('PUT', `/config/${subject}`, { compatibility: level })).status).toBe(200);
    expect(JSON.parse((await api('GET', `/config/${subject}`)).body)).toMatchObject({ compatibilityLevel: level });
    const r = await api('POST', `/subjects/${subject}/versions`, { schema: JSON.stringify(candidate) });
    const verdict = level === 'NONE' ? expected[noneEnforces] : compatible;
    expect(r.status, r.body).toBe(verdict ? 200 : 409);
  });
});
