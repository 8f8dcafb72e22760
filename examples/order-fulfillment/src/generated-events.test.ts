import { fileURLToPath } from 'node:url';
import { runSchemasCli } from '@troupe/schema-registry';
import { describe, expect, it } from 'vitest';

const schemas = fileURLToPath(new URL('../../../schemas', import.meta.url));
const generated = fileURLToPath(new URL('./generated/events.ts', import.meta.url));

describe('the example’s generated events', () => {
  it('are what `troupe-schemas codegen` writes from schemas/ today (run `npm run codegen -w examples/order-fulfillment` when this fails)', async () => {
    const lines: string[] = [];
    const io = { out: (l: string) => void lines.push(l), err: (l: string) => void lines.push(l) };
    const code = await runSchemasCli(['--schemas', schemas, 'codegen', '--check', '--out', generated], io);
    expect(lines.join('\n')).not.toMatch(/stale/);
    expect(code).toBe(0);
  });
});
