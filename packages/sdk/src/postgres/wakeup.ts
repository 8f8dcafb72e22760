/** A sleep that a signal can cut short; a signal while nobody sleeps makes the next sleep return at once. */
export class Wakeup {
  private pending = false;
  private wake: (() => void) | undefined;

  signal(): void {
    if (this.wake) this.wake();
    else this.pending = true;
  }

  sleep(ms: number): Promise<void> {
    if (this.pending) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }
}
