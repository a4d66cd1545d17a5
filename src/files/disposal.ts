/**
 * @module files/disposal
 * Where a file goes once its consumer is done with it. A stored file is deleted, or moved
 * to the backup directory or to the archive directory under its day (`YYYY-MM-DD`, UTC),
 * gzip-compressed on the way when asked (written
 * atomically, then the original removed). A file that cannot be stored goes to the error
 * directory with `<name>.err.txt` beside it giving the reason. A file no longer there (an
 * other process took it) is not an error: the outcome says `missing`. Failures are values.
 *
 * The operator disposes of its watch-directory files with one; the publisher and the blobs
 * archiver of theirs.
 */
import { mkdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { basename, join } from "node:path";
import { gzipSync } from "node:zlib";
import { writeFileAtomic } from "../util/atomic-file.ts";
import { type Result, errorText, fail, ok } from "../util/result.ts";

/** Where stored files go. */
export type StoredFiles =
  | { to: "delete" }
  | { to: "backup"; dir: string }
  /** under `dir/YYYY-MM-DD`, the UTC day it was stored */
  | { to: "archive"; dir: string };

export interface DisposalSettings {
  stored: StoredFiles;
  /** Gzip a kept stored file (one already ending in `.gz` is moved as it is). */
  compress: boolean;
  /** Where refused files go, with their reasons. */
  errorDir: string;
  /** The clock for the archive's day (tests set it). */
  now?: () => Date;
}

/** What became of a file: moved (to `path`), deleted, or missing (it was not there). */
export type Disposed = { kind: "moved"; path: string } | { kind: "deleted" } | { kind: "missing" };

const isMissing = (e: unknown) => (e as NodeJS.ErrnoException | undefined)?.code === "ENOENT";

export class FileDisposal {
  constructor(readonly settings: DisposalSettings) {}

  /** A file whose data is stored leaves its directory as the settings say. */
  stored(path: string): Result<Disposed> {
    const s = this.settings;
    if (s.stored.to === "delete") {
      try {
        rmSync(path);
        return ok({ kind: "deleted" });
      } catch (e) {
        return isMissing(e) ? ok({ kind: "missing" }) : fail("io", `stored ${basename(path)} but cannot delete it: ${errorText(e)}`);
      }
    }
    const dir = s.stored.to === "archive" ? join(s.stored.dir, (s.now?.() ?? new Date()).toISOString().slice(0, 10)) : s.stored.dir;
    const r = moveTo(path, dir, s.compress);
    return r.ok ? r : fail("io", `stored ${basename(path)} but cannot move it to ${dir}: ${r.error.message}`);
  }

  /** A file that cannot be stored goes to the error directory, with `<name>.err.txt` saying why. */
  refused(path: string, reason: string): Result<Disposed> {
    const dir = this.settings.errorDir;
    const moved = moveTo(path, dir, false);
    if (!moved.ok) return fail("io", `cannot move ${basename(path)} to ${dir}: ${moved.error.message}`);
    if (moved.value.kind === "missing") return moved;
    // written whole or not at all: whoever sees the reason file reads all of it
    const why = writeFileAtomic(join(dir, `${basename(path)}.err.txt`), `${reason}\n`);
    if (!why.ok) return fail("io", `moved ${basename(path)} to ${dir} but cannot write its reason: ${why.error.message}`);
    return moved;
  }
}

/** Moves a file into `dir` (made when missing), gzip-compressing it on the way when asked. */
function moveTo(path: string, dir: string, compress: boolean): Result<Disposed> {
  const name = basename(path);
  try {
    mkdirSync(dir, { recursive: true });
    if (compress && !name.endsWith(".gz")) {
      const target = join(dir, `${name}.gz`);
      const written = writeFileAtomic(target, gzipSync(readFileSync(path)));
      if (!written.ok) return written;
      rmSync(path, { force: true });
      return ok({ kind: "moved", path: target });
    }
    const target = join(dir, name);
    try {
      renameSync(path, target);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EXDEV") throw e;
      // another file system: copy (atomically), then remove the original
      const written = writeFileAtomic(target, readFileSync(path));
      if (!written.ok) return written;
      rmSync(path, { force: true });
    }
    return ok({ kind: "moved", path: target });
  } catch (e) {
    return isMissing(e) ? ok({ kind: "missing" }) : fail("io", errorText(e));
  }
}
