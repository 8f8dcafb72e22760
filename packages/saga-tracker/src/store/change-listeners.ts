import type { SagaChange } from './saga-store.js';

/** Fan-out of committed changes; a throwing listener must not break ingestion or other listeners. */
export class ChangeListeners {
  private readonly listeners = new Set<(changes: readonly SagaChange[]) => void>();

  add(listener: (changes: readonly SagaChange[]) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  emit(changes: readonly SagaChange[]): void {
    for (const l of this.listeners) {
      try {
        l(changes);
      } catch {
        // A listener's bug is its own; the store has already committed.
      }
    }
  }

  clear(): void {
    this.listeners.clear();
  }
}
