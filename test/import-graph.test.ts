// The dependency rules of docs/adr/0000, ADR 0005 and STYLE.md, checked on the source: packages
// depend one way (core ← schema-registry, core ← kafka; sdk → kafka, schema-registry, core;
// saga-tracker → kafka, schema-registry, core; testing on top; core depends on nothing; sdk and
// saga-tracker never on each other) and no module imports itself back through a cycle.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const PACKAGES = ['core', 'kafka', 'schema-registry', 'sdk', 'saga-tracker', 'testing'];
const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+['"]([^'"]+)['"]/g;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [p] : [];
  });
}

function importsOf(file: string): string[] {
  return [...readFileSync(file, 'utf8').matchAll(IMPORT)].map((m) => m[1] as string);
}

describe('import graph', () => {
  it('keeps package dependencies one way: core depends on nothing, sdk and saga-tracker never on each other', () => {
    const allowed: Record<string, string[]> = {
      core: [],
      kafka: ['core'],
      'schema-registry': ['core'],
      sdk: ['core', 'kafka', 'schema-registry'],
      'saga-tracker': ['core', 'kafka', 'schema-registry'],
      testing: ['core', 'kafka', 'schema-registry', 'sdk'],
    };
    const found: Record<string, Set<string>> = {};
    for (const pkg of PACKAGES) {
      found[pkg] = new Set();
      for (const file of sourceFiles(join(root, 'packages', pkg, 'src'))) {
        for (const spec of importsOf(file)) {
          const m = /^@troupe\/([^/]+)/.exec(spec);
          if (m?.[1] !== undefined && m[1] !== pkg) found[pkg]?.add(m[1]);
        }
      }
    }
    for (const pkg of PACKAGES) {
      const extra = [...(found[pkg] ?? [])].filter((d) => !allowed[pkg]?.includes(d));
      expect(extra, `@troupe/${pkg} imports packages it must not depend on`).toEqual([]);
    }
    // Not vacuous: the expected edges are really there.
    expect([...(found['sdk'] ?? [])]).toContain('schema-registry');
    expect([...(found['schema-registry'] ?? [])]).toContain('core');
    expect([...(found['saga-tracker'] ?? [])]).toContain('schema-registry');
    // One Kafka reader: the SDK, the tracker's ingest and the test recorder all read through it.
    expect([...(found['sdk'] ?? [])]).toContain('kafka');
    expect([...(found['saga-tracker'] ?? [])]).toContain('kafka');
    expect([...(found['testing'] ?? [])]).toContain('kafka');
    expect([...(found['kafka'] ?? [])]).toContain('core');
  });

  it('reads Kafka in one place: only @troupe/kafka creates kafkajs consumers', () => {
    // The broker launcher's warm-up joins a group once to load the coordinator; it reads nothing.
    const exempt = new Set(['packages/testing/src/kafka/warm-up.ts']);
    const files = [...PACKAGES.map((p) => join(root, 'packages', p, 'src')), join(root, 'examples', 'order-fulfillment', 'src')].flatMap(
      sourceFiles,
    );
    const readers = files.map((f) => relative(root, f)).filter((f) => /\.consumer\(\{/.test(readFileSync(join(root, f), 'utf8')));
    expect(readers.filter((f) => !f.startsWith('packages/kafka/') && !exempt.has(f))).toEqual([]);
    expect(readers.some((f) => f.startsWith('packages/kafka/'))).toBe(true);
  });

  it('keeps @troupe/core free of I/O and third-party code: it imports only its own modules', () => {
    const files = sourceFiles(join(root, 'packages', 'core', 'src'));
    expect(files.length).toBeGreaterThan(3);
    const foreign = files.flatMap((f) =>
      importsOf(f)
        .filter((s) => !s.startsWith('.'))
        .map((s) => `${relative(root, f)}: ${s}`),
    );
    expect(foreign).toEqual([]);
  });

  it('has no import cycles between modules of a package', () => {
    const graph = new Map<string, string[]>();
    for (const pkg of PACKAGES) {
      for (const file of sourceFiles(join(root, 'packages', pkg, 'src'))) {
        const deps = importsOf(file)
          .filter((s) => s.startsWith('.'))
          .map((s) => resolve(dirname(file), s.replace(/\.js$/, '.ts')));
        graph.set(file, deps);
      }
    }
    expect(graph.size).toBeGreaterThan(50);
    const cycles: string[] = [];
    const state = new Map<string, 'visiting' | 'done'>();
    const stack: string[] = [];
    const visit = (f: string): void => {
      if (state.get(f) === 'done') return;
      if (state.get(f) === 'visiting') {
        cycles.push([...stack.slice(stack.indexOf(f)), f].map((p) => relative(root, p)).join(' -> '));
        return;
      }
      state.set(f, 'visiting');
      stack.push(f);
      for (const d of graph.get(f) ?? []) visit(d);
      stack.pop();
      state.set(f, 'done');
    };
    for (const f of graph.keys()) visit(f);
    expect(cycles).toEqual([]);
  });
});
