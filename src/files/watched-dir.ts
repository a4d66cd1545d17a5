/**
 * @module files/watched-dir
 * A watched directory: reports each file that appears in one directory (not its
 * subdirectories) once it has settled, i.e. nothing has written to it for `settleMs`, so a
 * consumer never takes a file still being copied in. It owns the chokidar watcher (loaded
 * only when a directory is first watched), the re-listing every `rescanMs` that finds the
 * files Bun's fs.watch did not report (a file renamed in, as `mv` and atomic writers do, is
 * often never reported), the settle wait (one stat and one timer per file, where chokidar's
 * awaitWriteFinish polls every pending file) and the names left alone (`ignoredName`).
 *
 * A path is reported once; it is reported again only after the consumer `release`s it (it
 * has moved the file away, and a new file of that name is new data) or after a listing found
 * it gone. The operator, the publisher, the blobs archiver and the HA distributor each watch
 * their own directory with one.
 */
import type { FSWatcher } from "chokidar";
import { readdirSync, statSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { type Result, errorText, fail, ok } from "../util/result.ts";

/** How often the directory is listed again (see the module comment). */
export const RESCAN_MS = 1000;

/** A file is reported once nothing has written to it for this long. */
export const SETTLE_MS = 100;

/** Names left alone in a watched directory: temporary files (`.tmp`), reasons (`.err.txt`), dot files. */
export const ignoredName = (path: string): boolean => /\.(tmp|err\.txt)$/i.test(path) || basename(path).startsWith(".");

export interface WatchedDirectoryOptions {
  /** The directory watched (it must exist when `start` is called). */
  directory: string;
  /** Called once per settled file, with its path (the directory joined with its name). */
  onSettled: (path: string) => void;
  /** Whether a path is to be reported at all; default: every name but `ignoredName`s. */
  accept?: (path: string) => boolean;
  /** A failure of the watcher or of `onSettled`, as a message (the watching goes on). */
  onError?: (message: string) => void;
  settleMs?: number;
  rescanMs?: number;
}

export class WatchedDirectory {
  readonly directory: string;
  private readonly accept: (path: string) => boolean;
  private readonly settleMs: number;
  private readonly rescanMs: number;
  private watcher?: FSWatcher;
  private rescanTimer?: ReturnType<typeof setInterval>;
  /** Settle timers (cleared by stop). */
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  /** Files waiting until nothing wrote to them for settleMs. */
  private readonly waiting = new Set<string>();
  /** Files reported and not released. */
  private readonly reported = new Set<string>();
  /** Files the watcher has not reported, with their size and time at the last listing. */
  private unreported = new Map<string, string>();
  private running = false;
  /** The closing of the last watcher (a start waits for it). */
  private closing: Promise<void> = Promise.resolve();
  /** Ends a start that waits for the watcher (set only while start waits). */
  private abortStart?: () => void;

  constructor(private readonly options: WatchedDirectoryOptions) {
    this.directory = options.directory;
    this.accept = options.accept ?? ((path) => !ignoredName(path));
    this.settleMs = options.settleMs ?? SETTLE_MS;
    this.rescanMs = options.rescanMs ?? RESCAN_MS;
  }

  /**
   * Watches the directory; resolves once the watcher has read it (the files already there
   * are reported as they settle, some maybe before). `stop`, or `signal` aborted before the
   * start resolved, ends a start still waiting, with an `unavailable` error.
   */
  async start(signal?: AbortSignal): Promise<Result<void>> {
    if (this.running) return fail("conflict", `${this.directory} is already watched`);
    const stopped = async () => {
      await this.closing;
      return fail<void>("unavailable", `the watching of ${this.directory} was stopped while it was starting`);
    };
    if (signal?.aborted) return stopped();
    this.running = true;
    const aborted = new Promise<false>((done) => (this.abortStart = () => done(false)));
    const onAbort = () => void this.stop();
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      let chokidar: typeof import("chokidar");
      try {
        const loaded = await Promise.race([import("chokidar"), aborted]);
        if (loaded === false || !this.running) return stopped();
        chokidar = loaded;
      } catch (e) {
        await this.stop();
        return fail("internal", `cannot load the file watcher (chokidar): ${errorText(e)}`);
      }
      const dir = resolve(this.directory);
      const watcher = chokidar.watch(this.directory, {
        depth: 0,
        ignoreInitial: false,
        ignored: (path: string) => resolve(path) !== dir && !this.accept(path),
      });
      this.watcher = watcher;
      watcher.on("add", (path: string) => this.look(path));
      watcher.on("error", (e: unknown) => this.options.onError?.(`watching ${this.directory} failed: ${errorText(e)}`));
      const ready = await Promise.race([new Promise<true>((done) => watcher.once("ready", () => done(true))), aborted]);
      if (!ready || !this.running) return stopped();
      this.rescanTimer = setInterval(() => this.rescan(), this.rescanMs);
      return ok(undefined);
    } finally {
      this.abortStart = undefined;
      signal?.removeEventListener("abort", onAbort);
    }
  }

  /** Ends the watching: no file is reported after it is called. A later `start` reports every file anew. */
  stop(): Promise<void> {
    this.running = false;
    this.abortStart?.();
    this.abortStart = undefined;
    clearInterval(this.rescanTimer);
    this.rescanTimer = undefined;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.waiting.clear();
    this.reported.clear();
    this.unreported.clear();
    const watcher = this.watcher;
    this.watcher = undefined;
    if (watcher) this.closing = watcher.close();
    return this.closing;
  }

  /** The consumer is done with `path` (it moved the file away): a file of that name appearing again is reported again. */
  release(path: string): void {
    this.reported.delete(path);
  }

  /** Files seen and waiting to settle. */
  get settling(): number {
    return this.waiting.size;
  }

  /** Reports a file once it has settled; `seen` is its size and mtime at the previous look. */
  private look(path: string, seen?: string): void {
    if (!this.running || this.reported.has(path) || (seen === undefined && this.waiting.has(path))) return;
    let mark: string;
    let age: number;
    try {
      const st = statSync(path);
      if (!st.isFile()) return void this.waiting.delete(path);
      mark = `${st.size}:${st.mtimeMs}`;
      age = Date.now() - st.mtimeMs;
    } catch {
      this.waiting.delete(path);
      return; // gone meanwhile
    }
    // written to within settleMs and changed since the last look (a clock ahead gives a
    // negative age: then unchanged over one wait is enough)
    if (age < this.settleMs && mark !== seen) {
      this.waiting.add(path);
      const timer = setTimeout(
        () => {
          this.timers.delete(timer);
          this.look(path, mark);
        },
        Math.min(this.settleMs, this.settleMs - age) + 1,
      );
      this.timers.add(timer);
      return;
    }
    this.waiting.delete(path);
    this.reported.add(path);
    try {
      this.options.onSettled(path);
    } catch (e) {
      this.options.onError?.(`handling ${basename(path)} of ${this.directory} failed: ${errorText(e)}`);
    }
  }

  /** Looks at the files the watcher did not report, once they are unchanged since the previous listing. */
  private rescan(): void {
    let names: string[];
    try {
      names = readdirSync(this.directory);
    } catch {
      return;
    }
    const present = new Set<string>();
    const now = new Map<string, string>();
    for (const name of names) {
      const path = join(this.directory, name);
      present.add(path);
      if (this.reported.has(path) || this.waiting.has(path) || !this.accept(path)) continue;
      let mark: string;
      try {
        const st = statSync(path);
        if (!st.isFile()) continue;
        mark = `${st.size}:${st.mtimeMs}`;
      } catch {
        continue; // gone meanwhile
      }
      if (this.unreported.get(path) === mark) this.look(path);
      else now.set(path, mark);
    }
    this.unreported = now;
    for (const path of this.reported) if (!present.has(path)) this.reported.delete(path);
  }
}
