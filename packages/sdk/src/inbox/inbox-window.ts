/**
 * The event ids one partition number handled most recently, at most `capacity` of them: adding
 * one more forgets the oldest. A lookup is one hash probe; memory is bounded by the capacity.
 */
export class InboxWindow {
  private readonly ids = new Set<string>();

  constructor(readonly capacity: number) {}

  has(id: string): boolean {
    return this.ids.has(id);
  }

  /** Remembers `id`; true when that made the window forget its oldest id. */
  add(id: string): boolean {
    if (this.ids.has(id)) return false;
    this.ids.add(id);
    if (this.ids.size <= this.capacity) return false;
    const oldest = this.ids.values().next().value;
    if (oldest !== undefined) this.ids.delete(oldest);
    return true;
  }

  get size(): number {
    return this.ids.size;
  }
}
