/**
 * @module util/atomic-file
 * Writing a file so that a reader (or a restart after a crash) sees the old content or the
 * new, never half: write a temporary file beside it, flush it to disk, rename it over, and
 * flush the folder so the rename itself survives a power cut.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync } from "node:fs";
import { diskReason, syncDirectory, writeFully } from "./disk.ts";
import { dirname } from "node:path";
import { type Result, fail, ok } from "./result.ts";

export function writeFileAtomic(path: string, content: string | Uint8Array): Result<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    mkdirSync(dirname(path), { recursive: true });
    const fd = openSync(tmp, "w", 0o640);
    try {
      const bytes = typeof content === "string" ? Buffer.from(content, "utf8") : content;
      writeFully(fd, bytes);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
    syncDirectory(dirname(path)); // the new name survives a power cut with the content
    return ok(undefined);
  } catch (e) {
    rmSync(tmp, { force: true });
    return fail("io", `cannot write ${path}: ${diskReason(e)}`);
  }
}
