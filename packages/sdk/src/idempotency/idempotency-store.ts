/**
 * Where `ctx.once` records the results of side effects, so a redelivered event gets the stored
 * result instead of running the effect again. Results must be JSON-serialisable.
 */
export interface IdempotencyStore {
  /** The stored result of `key`, wrapped so that a stored `undefined` is distinguishable from none. */
  get(key: string): Promise<{ readonly value: unknown } | undefined>;
  /** Stores the result unless one exists and returns what is stored afterwards (first writer wins). */
  putIfAbsent(key: string, value: unknown): Promise<unknown>;
  close(): Promise<void>;
}

/** JSON round trip, so the memory store behaves like the durable one (no shared mutable objects). */
export function jsonClone(value: unknown): unknown {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}
