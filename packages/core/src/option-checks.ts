/**
 * The one way to check options: each check records a problem instead of throwing, so a caller
 * reports every problem at once (with what was given), then throws its own typed error.
 *
 * ```ts
 * const check = new OptionChecks();
 * const size = check.int('maxBatchSize', opts.maxBatchSize ?? 100, { min: 1 });
 * check.throwIfAny((problems) => new SdkError('CONFIG_INVALID', `participant x: ${problems}`));
 * ```
 */
export class OptionChecks {
  private readonly problems: string[] = [];

  /** A whole number within the bounds (`min` defaults to 1). */
  int(name: string, value: number, bounds: { readonly min?: number; readonly max?: number; readonly hint?: string } = {}): number {
    const min = bounds.min ?? 1;
    const ok = Number.isInteger(value) && value >= min && (bounds.max === undefined || value <= bounds.max);
    if (!ok) {
      const range = bounds.max === undefined ? `>= ${min}` : `from ${min} to ${bounds.max}`;
      this.add(`${name} must be an integer ${range} (got ${String(value)})${bounds.hint ? `; ${bounds.hint}` : ''}`);
    }
    return value;
  }

  /** A number within the bounds (`min` defaults to 0). */
  number(name: string, value: number, bounds: { readonly min?: number; readonly max?: number } = {}): number {
    const min = bounds.min ?? 0;
    const ok = typeof value === 'number' && value >= min && (bounds.max === undefined || value <= bounds.max);
    if (!ok) {
      const range = bounds.max === undefined ? `>= ${min}` : `between ${min} and ${bounds.max}`;
      this.add(`${name} must be a number ${range} (got ${String(value)})`);
    }
    return value;
  }

  /** One of a fixed set of strings. */
  oneOf<T extends string>(name: string, value: T, allowed: readonly T[]): T {
    if (!allowed.includes(value)) this.add(`${name} must be ${allowed.map((a) => `'${a}'`).join(' or ')} (got '${String(value)}')`);
    return value;
  }

  /** A string matching `pattern`; `what` says in words what that is. */
  matches(name: string, value: string, pattern: RegExp, what: string): string {
    if (typeof value !== 'string' || !pattern.test(value)) this.add(`${name} must be ${what} (got '${String(value)}')`);
    return value;
  }

  /** Present (not undefined or null); `hint` says how to get one. */
  required(name: string, value: unknown, hint?: string): void {
    if (value === undefined || value === null) this.add(`${name} is required${hint ? ` (${hint})` : ''}`);
  }

  /** A problem found by a check of the caller's own. */
  add(problem: string): void {
    this.problems.push(problem);
  }

  get ok(): boolean {
    return this.problems.length === 0;
  }

  /** Throws the caller's error with every problem joined by '; ', if there is any. */
  throwIfAny(make: (problems: string) => Error): void {
    if (this.problems.length > 0) throw make(this.problems.join('; '));
  }
}
