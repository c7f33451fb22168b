/** A counting semaphore without waiting: at most `size` runs execute at once in this worker. */
export class Slots {
  #free: number;

  constructor(readonly size: number) {
    this.#free = size;
  }

  get inUse(): number {
    return this.size - this.#free;
  }

  /** Takes a slot if one is free. */
  tryAcquire(): boolean {
    if (this.#free === 0) return false;
    this.#free--;
    return true;
  }

  /** Gives a slot back (after `tryAcquire` returned true). */
  release(): void {
    if (this.#free < this.size) this.#free++;
  }
}
