import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { lazyChild } from './lazy-logger.js';

describe('lazyChild', () => {
  it('logs with the child bindings, building them only when first used', () => {
    const lines: string[] = [];
    const parent = pino({ level: 'info' }, { write: (l: string) => lines.push(l) });
    let built = 0;
    const log = lazyChild(parent, () => {
      built += 1;
      return { sagaId: 's-1' };
    });
    expect(built).toBe(0);
    log.info({ step: 'payment' }, 'hello');
    log.child({ attempt: 2 }).warn('again');
    expect(built).toBe(1);
    expect(lines.map((l) => JSON.parse(l) as Record<string, unknown>)).toMatchObject([
      { sagaId: 's-1', step: 'payment', msg: 'hello' },
      { sagaId: 's-1', attempt: 2, msg: 'again' },
    ]);
  });
});
