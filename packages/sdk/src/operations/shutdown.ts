import type { Logger } from 'pino';

export interface GracefulShutdownOptions {
  /** @default ['SIGTERM', 'SIGINT'] */
  readonly signals?: readonly NodeJS.Signals[];
  /**
   * Time allowed for closing everything; past it the process exits with code 1 anyway (the broker
   * then aborts open transactions and the group rebalances, so nothing is lost, only redone).
   * @default 25_000 (below Kubernetes' default 30 s grace period)
   */
  readonly timeoutMs?: number;
  /**
   * Exit the process when done.
   * @default true
   */
  readonly exit?: boolean;
  readonly logger?: Logger;
}

/**
 * Closes participants (and anything else with `close()`) on SIGTERM/SIGINT: they stop fetching,
 * finish and commit in-flight batches and leave the group, within a bounded time. Opt-in, because
 * a library should not own the process's signals unasked. Returns a function that uninstalls it.
 */
export function shutdownGracefully(closeables: readonly { close(): Promise<void> }[], options: GracefulShutdownOptions = {}): () => void {
  const signals = options.signals ?? ['SIGTERM', 'SIGINT'];
  const timeoutMs = options.timeoutMs ?? 25_000;
  const exit = options.exit ?? true;
  let started = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (started) return;
    started = true;
    options.logger?.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      options.logger?.error({ timeoutMs }, 'shutdown took too long; exiting anyway');
      if (exit) process.exit(1);
    }, timeoutMs);
    timer.unref();
    // Sequential, in the order given: e.g. participants before the transport they use.
    void (async () => {
      let failed = false;
      for (const c of closeables) {
        try {
          await c.close();
        } catch (err) {
          failed = true;
          options.logger?.error({ err }, 'close failed during shutdown');
        }
      }
      clearTimeout(timer);
      options.logger?.info('shutdown complete');
      if (exit) process.exit(failed ? 1 : 0);
    })();
  };
  for (const s of signals) process.on(s, onSignal);
  return () => {
    for (const s of signals) process.off(s, onSignal);
  };
}
