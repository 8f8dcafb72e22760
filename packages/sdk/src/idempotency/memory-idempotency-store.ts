import { jsonClone, type IdempotencyStore } from './idempotency-store.js';

/** Keeps results in the process: enough for tests and for one-instance demos. */
export class MemoryIdempotencyStore implements IdempotencyStore {
  private readonly results = new Map<string, unknown>();

  get(key: string): Promise<{ readonly value: unknown } | undefined> {
    return Promise.resolve(this.results.has(key) ? { value: jsonClone(this.results.get(key)) } : undefined);
  }

  putIfAbsent(key: string, value: unknown): Promise<unknown> {
    if (!this.results.has(key)) this.results.set(key, jsonClone(value));
    return Promise.resolve(jsonClone(this.results.get(key)));
  }

  /** Number of stored results (for tests). */
  get size(): number {
    return this.results.size;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
