/**
 * @module util/keyed-lock
 * Work that must not overlap per key (one table written by one writer at a time) runs in
 * turn, in the order it asked; work under other keys goes on meanwhile.
 */
export class KeyedLock {
  /** Per key, a promise that settles when the last work queued under it is done. */
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const before = this.tails.get(key) ?? Promise.resolve();
    let release = () => {};
    const mine = new Promise<void>((done) => (release = done));
    const tail = before.then(() => mine);
    this.tails.set(key, tail);
    await before;
    try {
      return await work();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}
