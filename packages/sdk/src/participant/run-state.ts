/**
 * How a participant's run ends: `run()` resolves on close and rejects on the first fatal crash;
 * crash listeners hear about it too. Nobody has to await `run()`: an unobserved crash is not an
 * unhandled rejection (it is in `health()`, the logs and the listeners).
 */
export class RunState {
  private crash: Error | undefined;
  private readonly listeners = new Set<(error: Error) => void>();
  private readonly promise: Promise<void>;
  private resolve: () => void = () => undefined;
  private reject: (err: Error) => void = () => undefined;

  constructor() {
    this.promise = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.promise.catch(() => undefined);
  }

  run(): Promise<void> {
    return this.promise;
  }

  onCrash(listener: (error: Error) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Records the first crash; false when the run already ended. */
  crashed(error: Error): boolean {
    if (this.crash !== undefined) return false;
    this.crash = error;
    for (const l of this.listeners) l(error);
    this.reject(error);
    return true;
  }

  closed(): void {
    this.resolve();
  }
}
