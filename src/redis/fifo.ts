// A first-in first-out queue whose shift() is O(1): a growing ring of slots.
// Array.prototype.shift moves every element, which on a list of 200,000
// in-flight Redis commands costs milliseconds per reply.
export class Fifo<T> {
  private slots: (T | undefined)[] = new Array<T | undefined>(16);
  private head = 0;
  private count = 0;

  get length(): number {
    return this.count;
  }

  push(item: T): void {
    if (this.count === this.slots.length) this.grow();
    this.slots[(this.head + this.count) & (this.slots.length - 1)] = item;
    this.count++;
  }

  /** The oldest item, removed; undefined when empty. */
  shift(): T | undefined {
    if (this.count === 0) return undefined;
    const item = this.slots[this.head];
    this.slots[this.head] = undefined;
    this.head = (this.head + 1) & (this.slots.length - 1);
    this.count--;
    return item;
  }

  /** The oldest item, kept. */
  peek(): T | undefined {
    return this.count === 0 ? undefined : this.slots[this.head];
  }

  /** The item `index` places from the oldest, kept; undefined past the end. */
  at(index: number): T | undefined {
    return index < 0 || index >= this.count ? undefined : this.slots[(this.head + index) & (this.slots.length - 1)];
  }

  /** The newest item, kept. */
  last(): T | undefined {
    return this.count === 0 ? undefined : this.slots[(this.head + this.count - 1) & (this.slots.length - 1)];
  }

  /** Every item, oldest first, and the queue emptied. */
  drain(): T[] {
    const out = new Array<T>(this.count);
    for (let i = 0; i < out.length; i++) out[i] = this.shift() as T;
    this.head = 0;
    return out;
  }

  /** The ring doubles (its size stays a power of two), items kept in order from slot 0. */
  private grow(): void {
    const bigger = new Array<T | undefined>(this.slots.length * 2);
    for (let i = 0; i < this.count; i++) bigger[i] = this.slots[(this.head + i) & (this.slots.length - 1)];
    this.slots = bigger;
    this.head = 0;
  }
}
