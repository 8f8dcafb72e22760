// The README's "add Troupe to your own service" snippet must compile against the real packages and
// the example's generated events. It is type-checked in memory, as if it sat beside them.
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../../..');
const SNIPPET_FILE = join(here, '__readme_snippet__.ts');
const GATEWAY_FILE = join(here, 'gateway.ts');

function readmeSnippet(): string {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const m = /<!-- snippet: add-troupe[^>]*-->\s*```ts\n([\s\S]*?)```/.exec(readme);
  if (!m?.[1]) throw new Error('README.md has no ```ts block after <!-- snippet: add-troupe -->');
  return m[1];
}

function typeErrors(source: string): string[] {
  const config = ts.getParsedCommandLineOfConfigFile(join(root, 'tsconfig.check.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined });
  if (!config) throw new Error('cannot read tsconfig.check.json');
  const virtual = new Map([
    [SNIPPET_FILE, source],
    [GATEWAY_FILE, 'export declare function chargeCard(customerId: string, cents: number): Promise<string>;\n'],
  ]);
  const host = ts.createCompilerHost(config.options);
  const getSourceFile = host.getSourceFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  const readFile = host.readFile.bind(host);
  host.fileExists = (f) => virtual.has(f) || fileExists(f);
  host.readFile = (f) => virtual.get(f) ?? readFile(f);
  host.getSourceFile = (f, lang, ...rest) => {
    const text = virtual.get(f);
    return text !== undefined ? ts.createSourceFile(f, text, lang) : getSourceFile(f, lang, ...rest);
  };
  const program = ts.createProgram({ rootNames: [SNIPPET_FILE], options: { ...config.options, noEmit: true }, host });
  return ts
    .getPreEmitDiagnostics(program)
    .filter((d) => d.file?.fileName === SNIPPET_FILE)
    .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
}

describe('README snippet "Add Troupe to your own service"', () => {
  it('is at most 20 lines and type-checks against @troupe/sdk and the generated events', () => {
    const snippet = readmeSnippet();
    expect(snippet.trimEnd().split('\n').length).toBeLessThanOrEqual(20);
    expect(typeErrors(snippet)).toEqual([]);
  });

  it('would catch a wrong payload (the check is not vacuous)', () => {
    const broken = readmeSnippet().replace("method: 'CARD'", "method: 'CASH'");
    expect(typeErrors(broken).join('\n')).toMatch(/CASH/);
  });
});
