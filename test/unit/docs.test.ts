// Every TypeScript block in the READMEs and docs/*.md compiles against the packages' source, and
// the blocks marked `<!-- doc-check: run -->` run and print what their `// prints:` comments say.
// When this fails, the message points at the markdown line: fix the doc (or the marker's preamble).
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { docFiles, expectedOutput, extractBlocks, runBlock, typeCheck, type DocBlock } from './doc-blocks.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const blocks = docFiles(root).flatMap((doc) => extractBlocks(root, doc));

afterEach(() => {
  vi.restoreAllMocks();
});

async function printed(block: DocBlock): Promise<string[]> {
  const lines: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
    lines.push(args.map(String).join(' '));
  });
  await runBlock(block, (url) => import(/* @vite-ignore */ url));
  return lines;
}

describe('documentation code blocks', () => {
  it('are found in the root README, every package README and docs/', () => {
    const docs = new Set(blocks.map((b) => b.doc));
    for (const doc of [
      'README.md',
      'packages/sdk/README.md',
      'packages/schema-registry/README.md',
      'packages/saga-tracker/README.md',
      'packages/testing/README.md',
      'docs/participants.md',
    ]) {
      expect(docs, `${doc} has no \`\`\`ts block`).toContain(doc);
    }
  });

  it('all type-check', () => {
    expect(typeCheck(root, blocks)).toEqual([]);
  });

  it.each(blocks.filter((b) => b.run).map((b) => [`${b.doc}:${b.line}`, b] as const))(
    '%s runs and prints what it says',
    async (_where, block) => {
      expect(await printed(block)).toEqual(expectedOutput(block));
    },
  );
});

describe('the check is not vacuous', () => {
  const readme = blocks.find((b) => b.doc === 'README.md');

  it('reports a wrong payload in a doc at its markdown line', () => {
    if (readme === undefined) throw new Error('README.md has no ts block');
    const at = readme.code.split('\n').findIndex((l) => l.includes("method: 'CARD'"));
    expect(at).toBeGreaterThanOrEqual(0);
    const errors = typeCheck(root, [{ ...readme, code: readme.code.replace("method: 'CARD'", "method: 'CASH'") }]);
    expect(errors.join('\n')).toMatch(new RegExp(`^README\\.md:${readme.line + at}: .*CASH`, 'm'));
  });

  it('fails a runnable block whose output differs from its // prints: lines', async () => {
    const block: DocBlock = {
      doc: 'x.md',
      line: 1,
      code: "console.log('two');\n// prints: one",
      run: true,
      dir: root,
      preamble: '',
      siblings: new Map(),
    };
    expect(await printed(block)).not.toEqual(expectedOutput(block));
  });

  it('reads markers: run, in=<dir>, preamble and sibling modules', () => {
    const harness = blocks.find((b) => b.doc === 'docs/participants.md' && b.code.includes('SagaHarness.create'));
    expect(harness?.preamble).toContain('declare const transport: Transport;');
    expect(readme?.dir).toBe(fileURLToPath(new URL('../../examples/order-fulfillment/src', import.meta.url)));
    expect([...(readme?.siblings.keys() ?? [])]).toEqual(['gateway.ts']);
    expect(blocks.filter((b) => b.run).length).toBeGreaterThanOrEqual(4);
  });
});
