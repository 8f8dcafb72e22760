// The one mechanism that keeps documentation code honest: every ```ts block of every README and
// docs/*.md is type-checked against the packages' source, and the blocks marked `run` are executed
// and must print what their `// prints:` comments say. The marker syntax is documented in the root
// README ("Code blocks in the documentation"); in short, an HTML comment right above a block:
//
//   <!-- doc-check: run in=examples/order-fulfillment/src
//   declare const codec: EventCodec;          ← preamble: checked (and run) before the block, not shown
//   // file: gateway.ts                        ← a sibling module the block may import as ./gateway.js
//   export declare function charge(): Promise<string>;
//   -->
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';

export interface DocBlock {
  /** The markdown file, relative to the repository root (for messages). */
  readonly doc: string;
  /** 1-based line in the markdown of the block's first code line. */
  readonly line: number;
  readonly code: string;
  /** Executed by the docs test (and its `// prints:` lines compared with what it logs). */
  readonly run: boolean;
  /** Absolute directory the block is checked (and run) in, so that its relative imports resolve. */
  readonly dir: string;
  /** Hidden code put before the block: declarations of what the prose assumes. */
  readonly preamble: string;
  /** Hidden sibling modules: file name (relative to `dir`) → source. */
  readonly siblings: ReadonlyMap<string, string>;
}

const FENCE = /^```(ts|typescript)\s*$/;
const MARKER = /<!--\s*doc-check:?([^\n]*?)(?:\n([\s\S]*?))?-->\s*$/;

/** The markdown files whose code blocks are checked: root and package/example READMEs, docs/*.md. */
export function docFiles(root: string): string[] {
  const md = (dir: string): string[] =>
    existsSync(join(root, dir))
      ? readdirSync(join(root, dir))
          .filter((f) => f.endsWith('.md'))
          .map((f) => join(dir, f))
      : [];
  const readmes = (dir: string): string[] =>
    existsSync(join(root, dir))
      ? readdirSync(join(root, dir), { withFileTypes: true })
          .filter((e) => e.isDirectory() && existsSync(join(root, dir, e.name, 'README.md')))
          .map((e) => join(dir, e.name, 'README.md'))
      : [];
  return ['README.md', ...readmes('packages'), ...readmes('examples'), ...md('docs')].sort();
}

/** The ```ts blocks of one markdown file with their `doc-check` markers applied. */
export function extractBlocks(root: string, doc: string): DocBlock[] {
  const lines = readFileSync(join(root, doc), 'utf8').split('\n');
  const blocks: DocBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!FENCE.test(lines[i] ?? '')) continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && !/^```\s*$/.test(lines[end] ?? '')) end++;
    if (end >= lines.length) throw new Error(`${doc}:${i + 1}: code block is never closed`);
    const marker = markerAbove(lines, i);
    const attrs = parseAttributes(marker?.attributes ?? '', `${doc}:${i + 1}`);
    const { preamble, siblings } = splitBody(marker?.body ?? '');
    blocks.push({
      doc,
      line: start + 1,
      code: lines.slice(start, end).join('\n'),
      run: attrs.run,
      dir: resolve(root, attrs.in ?? '.'),
      preamble,
      siblings,
    });
    i = end;
  }
  return blocks;
}

function markerAbove(lines: readonly string[], fence: number): { attributes: string; body: string } | undefined {
  // The comment ends on the line right above the fence (blank lines between are allowed).
  let last = fence - 1;
  while (last >= 0 && (lines[last] ?? '').trim() === '') last--;
  if (last < 0 || !(lines[last] ?? '').trimEnd().endsWith('-->')) return undefined;
  let first = last;
  while (first >= 0 && !(lines[first] ?? '').includes('<!--')) first--;
  const m = MARKER.exec(lines.slice(Math.max(first, 0), last + 1).join('\n'));
  return m ? { attributes: m[1] ?? '', body: m[2] ?? '' } : undefined;
}

function parseAttributes(text: string, where: string): { run: boolean; in?: string } {
  const out: { run: boolean; in?: string } = { run: false };
  for (const word of text
    .trim()
    .split(/\s+/)
    .filter((w) => w !== '')) {
    if (word === 'run') out.run = true;
    else if (word.startsWith('in=')) out.in = word.slice(3);
    else throw new Error(`${where}: unknown doc-check attribute '${word}' (known: run, in=<dir>)`);
  }
  return out;
}

function splitBody(body: string): { preamble: string; siblings: Map<string, string> } {
  const siblings = new Map<string, string>();
  const [preamble = '', ...rest] = body.split(/^\/\/ file: /m);
  for (const part of rest) {
    const nl = part.indexOf('\n');
    siblings.set(part.slice(0, nl).trim(), part.slice(nl + 1));
  }
  return { preamble: preamble.trimEnd(), siblings };
}

/** The module the block is checked as: preamble, block, and `export {}` so top-level names stay local. */
function moduleSource(block: DocBlock): { text: string; preambleLines: number } {
  const preambleLines = block.preamble === '' ? 0 : block.preamble.split('\n').length;
  return { text: `${block.preamble === '' ? '' : `${block.preamble}\n`}${block.code}\nexport {};\n`, preambleLines };
}

function virtualName(block: DocBlock): string {
  return join(block.dir, `__doc_${basename(block.doc, '.md').replace(/\W/g, '_')}_${block.line}__.ts`);
}

/**
 * Type-checks every block in one program, as if each sat in its `dir`, with the strict options of
 * tsconfig.check.json (`@troupe/*` resolve to the packages' source). Returns `doc:line: message`
 * for each error, pointing into the markdown; empty when all compile.
 */
export function typeCheck(root: string, blocks: readonly DocBlock[]): string[] {
  const config = ts.getParsedCommandLineOfConfigFile(
    join(root, 'tsconfig.check.json'),
    {},
    { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined },
  );
  if (!config) throw new Error('cannot read tsconfig.check.json');
  const virtual = new Map<string, string>();
  const owner = new Map<string, { block: DocBlock; preambleLines: number }>();
  for (const block of blocks) {
    const name = virtualName(block);
    const { text, preambleLines } = moduleSource(block);
    virtual.set(name, text);
    owner.set(name, { block, preambleLines });
    for (const [file, source] of block.siblings) {
      const path = join(block.dir, file);
      if (virtual.has(path) && virtual.get(path) !== source)
        throw new Error(
          `${block.doc}:${block.line}: doc-check module ${file} is declared differently by another block; give it another name`,
        );
      virtual.set(path, source);
    }
  }
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
  const program = ts.createProgram({ rootNames: [...owner.keys()], options: { ...config.options, noEmit: true }, host });
  // Only the doc modules are checked: checking every package source too would take minutes.
  const diagnostics = [
    ...program.getOptionsDiagnostics(),
    ...program.getGlobalDiagnostics(),
    ...[...virtual.keys()].flatMap((f) => {
      const sf = program.getSourceFile(f);
      return sf === undefined ? [] : [...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf)];
    }),
  ];
  return diagnostics.flatMap((d) => {
    const file = d.file?.fileName;
    if (file === undefined || !virtual.has(file)) return file === undefined ? [ts.flattenDiagnosticMessageText(d.messageText, '\n')] : [];
    const message = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    const line = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line : 0;
    const own = owner.get(file);
    if (own === undefined) return [`${relative(root, file)} (a doc-check sibling module):${line + 1}: ${message}`];
    const inBlock = line - own.preambleLines;
    return [
      inBlock >= 0
        ? `${own.block.doc}:${own.block.line + inBlock}: ${message}`
        : `${own.block.doc}:${own.block.line} (preamble line ${line + 1}): ${message}`,
    ];
  });
}

/** What a runnable block says it prints: its `// prints: <line>` comments, in order. */
export function expectedOutput(block: DocBlock): string[] {
  return [...block.code.matchAll(/^\s*\/\/ prints: (.*)$/gm)].map((m) => m[1] as string);
}

/**
 * Runs a block as a module (with its preamble and siblings) through `importer`, which the test
 * passes so that the module goes through the same loader as the test itself. Files are written
 * where the block says it sits, under names no source file uses, and removed afterwards.
 */
export async function runBlock(block: DocBlock, importer: (url: string) => Promise<unknown>): Promise<void> {
  // Blocks that import nothing relative run in a temporary directory; the others beside their imports.
  const local = block.siblings.size > 0 || /from '\.\.?\//.test(`${block.preamble}\n${block.code}`);
  const dir = local ? block.dir : mkdtempSync(join(tmpdir(), 'troupe-doc-'));
  const written: string[] = [];
  try {
    for (const [file, source] of block.siblings) {
      written.push(join(dir, file));
      writeFileSync(join(dir, file), source);
    }
    const main = join(dir, basename(virtualName(block)));
    written.push(main);
    writeFileSync(main, moduleSource(block).text);
    await importer(pathToFileURL(main).href);
  } finally {
    for (const f of written) rmSync(f, { force: true });
    if (dir !== block.dir) rmSync(dir, { recursive: true, force: true });
  }
}
