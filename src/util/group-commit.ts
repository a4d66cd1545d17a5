/**
 * @module util/group-commit
 * One flush shared by every caller that asked meanwhile (group commit): a caller's request
 * is answered by the first flush that *starts* after it asked, so what it wrote before
 * asking is covered; callers that ask while a flush runs share the next one. The journal
 * uses it for its fsync, SQLite for the fsync of its write-ahead log.
 *
 * @example
 *   const sync = new GroupCommit(async () => fdatasync(fd));
 *   write(record); await sync.request(); // on disk, with every record written before
 */
export class GroupCommit<T> {
  private running?: Promise<T>;
  private next?: Promise<T>;

  constructor(private readonly flush: () => Promise<T>) {}

  /** Resolves with the result of a flush that began after this call. */
  request(): Promise<T> {
    if (this.next) return this.next;
    if (!this.running) return this.begin();
    const after = this.running.then(
      () => undefined,
      () => undefined,
    );
    this.next = after.then(() => {
      this.next = undefined;
      return this.begin();
    });
    return this.next;
  }

  private begin(): Promise<T> {
    const run = this.flush();
    this.running = run;
    const clear = () => {
      if (this.running === run) this.running = undefined;
    };
    run.then(clear, clear);
    return run;
  }
}
