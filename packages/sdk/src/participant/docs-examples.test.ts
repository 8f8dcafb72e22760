// The examples in docs/participants.md and docs/compensation.md, executed as written: each block
// marked `<!-- example: name -->` is written to a temporary module and imported, and what it
// prints is compared with what the page says it prints.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it, vi } from 'vitest';

const docs = fileURLToPath(new URL('../../../../docs/', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'troupe-doc-examples-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function example(page: string, name: string): string {
  const text = readFileSync(join(docs, page), 'utf8');
  const at = text.indexOf(`<!-- example: ${name} -->`);
  const block = at < 0 ? null : /```ts\n([\s\S]*?)```/.exec(text.slice(at));
  if (!block?.[1]) throw new Error(`${page} has no \`\`\`ts block after <!-- example: ${name} -->`);
  return block[1];
}

async function run(page: string, name: string): Promise<string[]> {
  const file = join(dir, `${name}.ts`);
  writeFileSync(file, example(page, name));
  const lines: string[] = [];
  const spy = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
    lines.push(args.map(String).join(' '));
  });
  try {
    await import(pathToFileURL(file).href);
  } finally {
    spy.mockRestore();
  }
  return lines;
}

describe('documentation examples', () => {
  it('participants.md quick start publishes, handles and completes the payment step', async () => {
    expect(await run('participants.md', 'participants-quick-start')).toEqual(['com.acme.PaymentCharged step-completed']);
  });

  it('compensation.md refunds with the log the payment step recorded', async () => {
    expect(await run('compensation.md', 'compensation')).toEqual(['refunding pay-o-7', 'com.acme.PaymentCharged → com.acme.PaymentRefunded']);
  });
});
