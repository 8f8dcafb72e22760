import type { FeedEntry, FeedWatcher, SagaChange, WatchOptions } from './saga-store.js';

/** How many of the latest changes a feed keeps for watchers that resume. */
export const DEFAULT_FEED_RETAIN = 10_000;

/** A feed id as a number, or undefined when the text is not one this tracker issued. */
export function parseFeedId(id: string): number | undefined {
  return /^(0|[1-9][0-9]{0,15})$/.test(id) ? Number(id) : undefined;
}

/**
 * The memory store's feed: the latest `retain` changes in a ring, numbered from 1 per process.
 * A client resuming with an id from an earlier process (ids above the head) gets a gap.
 */
export class MemoryChangeFeed {
  private readonly entries: FeedEntry[] = [];
  private head = 0;
  private readonly watchers = new Set<FeedWatcher>();

  constructor(private readonly retain = DEFAULT_FEED_RETAIN) {}

  publish(changes: readonly SagaChange[]): void {
    if (changes.length === 0) return;
    const added = changes.map((change) => ({ id: String(++this.head), change }));
    this.entries.push(...added);
    if (this.entries.length > this.retain) this.entries.splice(0, this.entries.length - this.retain);
    for (const w of this.watchers) deliver(w, added);
  }

  watch(watcher: FeedWatcher, opts: WatchOptions = {}): () => void {
    const after = opts.after === undefined ? this.head : parseFeedId(opts.after);
    const oldest = this.head - this.entries.length;
    if (after === undefined || after > this.head || after < oldest) watcher.gap?.();
    else if (after < this.head) deliver(watcher, this.entries.slice(after - oldest));
    this.watchers.add(watcher);
    return () => {
      this.watchers.delete(watcher);
    };
  }

  clear(): void {
    this.watchers.clear();
  }
}

/** A watcher's bug is its own; the store has already committed. */
export function deliver(w: FeedWatcher, entries: readonly FeedEntry[]): void {
  if (entries.length === 0) return;
  try {
    w.changes(entries);
  } catch {
    // ignored, as for onChange listeners
  }
}
