/** Bounds how many async tasks run at once (partitions handled concurrently). */
export class Semaphore {
  private available: number;
  private readonly waiters: (() => void)[] = [];

  constructor(permits: number) {
    this.available = permits;
  }

  async acquire(): Promise<() => void> {
    if (this.available > 0) {
      this.available -= 1;
    } else {
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    return this.releaser();
  }

  /** A permit if one is free now (no waiting, no promise), else undefined. */
  tryAcquire(): (() => void) | undefined {
    if (this.available <= 0) return undefined;
    this.available -= 1;
    return this.releaser();
  }

  /** A permit if one is free within `ms`, else undefined (the caller does something else). */
  async acquireWithin(ms: number): Promise<(() => void) | undefined> {
    if (this.available > 0) {
      this.available -= 1;
      return this.releaser();
    }
    let granted!: () => void;
    const got = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(granted);
        if (i >= 0) this.waiters.splice(i, 1);
        resolve(false);
      }, ms);
      granted = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.waiters.push(granted);
    });
    return got ? this.releaser() : undefined;
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiters.shift();
      if (next) next();
      else this.available += 1;
    };
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
