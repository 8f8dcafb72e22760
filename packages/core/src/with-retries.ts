/** How {@link withRetries} repeats a failing call. */
export interface RetryLoop {
  /** Calls in total (1 = no retry). */
  readonly attempts: number;
  /** Wait after the `failures`-th failed call, before the next one. */
  readonly delayMs: (failures: number) => number;
  /**
   * Whether the error of call `attempt` is worth another call.
   * @default every error
   */
  readonly retryOn?: (err: unknown, attempt: number) => boolean;
  /** Runs before waiting for the next call (log, count, heartbeat). */
  readonly onRetry?: (err: unknown, attempt: number) => void | Promise<void>;
}

/** The last call's result or error, and how many calls were made. */
export type Attempted<T> =
  | { readonly ok: true; readonly value: T; readonly attempts: number }
  | { readonly ok: false; readonly error: unknown; readonly attempts: number };

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The one retry loop: calls `fn` until it resolves, the error is not worth retrying, or the
 * attempts are used up. Never throws what `fn` throws: the outcome says, so callers decide what a
 * final failure means (give up, redeliver, rethrow) without exceptions steering the flow.
 */
export async function withRetries<T>(fn: (attempt: number) => Promise<T>, loop: RetryLoop): Promise<Attempted<T>> {
  for (let attempt = 1; ; attempt++) {
    try {
      return { ok: true, value: await fn(attempt), attempts: attempt };
    } catch (error) {
      if (attempt >= loop.attempts || !(loop.retryOn?.(error, attempt) ?? true)) return { ok: false, error, attempts: attempt };
      await loop.onRetry?.(error, attempt);
      const ms = loop.delayMs(attempt);
      if (ms > 0) await sleep(ms);
    }
  }
}
