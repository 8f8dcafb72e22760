import type { MemoryTransport } from './memory-transport.js';

/** Resolves once `predicate` holds for the records appended so far (checked on every append); for tests. */
export function waitUntil(transport: MemoryTransport, predicate: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    if (predicate()) return resolve();
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out waiting for ${what}`));
    }, timeoutMs);
    const off = transport.onAppend(() => {
      if (predicate()) {
        clearTimeout(timer);
        off();
        resolve();
      }
    });
  });
}
