/**
 * The abort signal of one attempt, made only when the handler reads `ctx.signal` (most never do, and
 * an AbortController per event is measurable). Aborting before anyone read it remembers the reason,
 * so a signal read later is already aborted with it.
 */
export class AttemptAbort {
  private controller: AbortController | undefined;
  private reason: unknown;
  private aborted = false;

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.controller?.abort(reason);
  }
}
