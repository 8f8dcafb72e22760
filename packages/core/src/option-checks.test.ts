import { describe, expect, it } from 'vitest';
import { OptionChecks } from './option-checks.js';

describe('OptionChecks', () => {
  it('collects every problem with the value given, then throws the caller’s error once', () => {
    const check = new OptionChecks();
    expect(check.int('size', 0)).toBe(0);
    check.int('port', 70000, { min: 0, max: 65535 });
    check.number('delayMs', -1);
    check.oneOf('delivery', 'twice' as 'once', ['once']);
    check.matches('name', 'a b', /^\S+$/, 'one word');
    check.required('codec', undefined, 'a schema registry client');
    expect(check.ok).toBe(false);
    expect(() => check.throwIfAny((p) => new RangeError(p))).toThrow(
      new RangeError(
        'size must be an integer >= 1 (got 0); port must be an integer from 0 to 65535 (got 70000); delayMs must be a number >= 0 (got -1); ' +
          "delivery must be 'once' (got 'twice'); name must be one word (got 'a b'); codec is required (a schema registry client)",
      ),
    );
  });

  it('throws nothing for valid options', () => {
    const check = new OptionChecks();
    check.int('size', 3);
    check.number('ratio', 0.5, { max: 1 });
    expect(check.ok).toBe(true);
    expect(() => check.throwIfAny((p) => new Error(p))).not.toThrow();
  });
});
