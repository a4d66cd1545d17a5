/**
 * @module ingest/spool
 * A large body taken without holding it in memory: read as it arrives, hashed on the way
 * (the same hash the whole text would have), cut into chunks of whole rows, each checked
 * (parsed, and by the caller's `admit`) and written to a spool file as it comes, so memory
 * stays within a few chunks whatever the body's size. The spool file is then the unit: it
 * is stored chunk by chunk in one transaction, set aside whole when refused, and removed
 * once stored. It is fsynced before its unit is acknowledged.
 *
 * A spool file is a sequence of `u32 length | JSON array text of rows` frames.
 */
import { closeSync, fdatasyncSync, fsyncSync, mkdirSync, openSync, readSync, renameSync, rmSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { diskReason, syncDirectory, writeFully } from "../util/disk.ts";
import { type Result, errorText, fail, ok } from "../util/result.ts";
import { type ColumnType, typeOfValue, widerType } from "./columns.ts";
import { RowSplitter } from "./row-splitter.ts";
import { type DataRow, parseRows } from "./rows.ts";

/** A body spooled to disk: where, how many rows, and the column types of all of them. */
export interface SpooledRows {
  path: string;
  rows: number;
  /** The widest type each key has over the whole body (what its column is made as). */
  types: Map<string, ColumnType>;
}

/** Bodies over this size are spooled; smaller ones are taken as text. */
export const SPOOL_OVER_BYTES = 4 * 1024 * 1024;

let serial = 0;

/**
 * Reads `body` into a new spool file in `dir`. `hashPrefix` starts the hash (the unit's
 * dbms.table); `admit` checks each chunk's rows (against the table's columns) before it is
 * kept. With `copy`, the body's bytes as sent also go to that file (a big `mode: file` PUT
 * becomes a watch-directory file byte for byte), fsynced with the spool.
 */
export async function spoolBody(
  body: ReadableStream<Uint8Array>,
  dir: string,
  hashPrefix: string,
  admit: (rows: DataRow[]) => Promise<Result<void>>,
  copy?: string,
): Promise<Result<{ hash: string; spooled: SpooledRows }>> {
  const path = join(dir, `${Date.now()}-${process.pid}-${serial++}.spool`);
  let fd: number;
  try {
    mkdirSync(dir, { recursive: true });
    fd = openSync(path, "w", 0o600);
  } catch (e) {
    return fail("io", `cannot spool the body in ${dir}: ${diskReason(e)}`);
  }
  let copyFd: number | undefined;
  try {
    if (copy) {
      mkdirSync(dirname(copy), { recursive: true });
      copyFd = openSync(copy, "w", 0o640);
    }
  } catch (e) {
    return drop(fd, path, fail("io", `cannot write ${copy}: ${diskReason(e)}`));
  }
  const hash = new Bun.CryptoHasher("md5").update(hashPrefix);
  const types = new Map<string, ColumnType>();
  const chunks: string[] = [];
  const splitter = new RowSplitter((text) => chunks.push(text));
  const decoder = new TextDecoder("utf-8");
  let seen = 0;
  const keep = async (): Promise<Result<void>> => {
    for (const text of chunks.splice(0)) {
      const rows = parseRows(text);
      if (!rows.ok) return fail("bad_value", seen > 0 ? `after row ${seen}: ${rows.error.message}` : rows.error.message);
      seen += rows.value.length;
      const admitted = await admit(rows.value);
      if (!admitted.ok) return admitted;
      for (const row of rows.value) for (const k in row) mergeType(types, k, row[k]);
      const frame = Buffer.from(text, "utf8");
      const head = Buffer.allocUnsafe(4);
      head.writeUInt32LE(frame.length, 0);
      writeFully(fd, head);
      writeFully(fd, frame);
    }
    return ok(undefined);
  };
  try {
    const reader = body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      hash.update(value);
      if (copyFd !== undefined) writeFully(copyFd, Buffer.from(value.buffer, value.byteOffset, value.byteLength));
      splitter.push(decoder.decode(value, { stream: true }));
      const kept = await keep();
      if (!kept.ok) {
        await reader.cancel().catch(() => {});
        return drop(fd, path, kept);
      }
    }
    splitter.push(decoder.decode());
    const end = splitter.end();
    if (!end.ok) return drop(fd, path, end);
    const kept = await keep();
    if (!kept.ok) return drop(fd, path, kept);
    fdatasyncSync(fd);
    closeSync(fd);
    syncDirectory(dir);
    if (copyFd !== undefined) {
      fdatasyncSync(copyFd);
      closeSync(copyFd);
      copyFd = undefined;
    }
    return ok({ hash: hash.digest("hex"), spooled: { path, rows: end.value.rows, types } });
  } catch (e) {
    return drop(fd, path, fail((e as NodeJS.ErrnoException).code ? "io" : "bad_value", `cannot take the body: ${diskReason(e)}`));
  } finally {
    if (copyFd !== undefined) {
      // (still open: the body was refused) the copy goes with the spool
      closeSync(copyFd);
      rmSync(copy!, { force: true });
    }
  }
}

/** The rows of a spool file, chunk by chunk. */
export function* spooledChunks(path: string): Generator<Result<DataRow[]>> {
  for (const frame of frames(path)) yield frame.ok ? parseRows(frame.value.toString("utf8")) : frame;
}

/** The frames of a spool file (each the text of a JSON array of rows), or why it cannot be read. */
function* frames(path: string): Generator<Result<Buffer>> {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (e) {
    yield fail("io", `cannot read the spooled body ${basename(path)}: ${diskReason(e)}`);
    return;
  }
  try {
    const head = Buffer.alloc(4);
    for (;;) {
      if (readSync(fd, head, 0, 4, null) < 4) return;
      const frame = Buffer.allocUnsafe(head.readUInt32LE(0));
      let off = 0;
      while (off < frame.length) {
        const n = readSync(fd, frame, off, frame.length - off, null);
        if (n === 0) break;
        off += n;
      }
      if (off < frame.length) {
        yield fail("io", `the spooled body ${basename(path)} is cut short`);
        return;
      }
      yield ok(frame);
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes the spooled rows as one JSON array to `target` (a refused body into the error
 * directory, a big `mode: file` PUT into the watch directory): the rows' own text, as sent.
 */
export function spoolToJson(path: string, target: string): Result<void> {
  const tmp = `${target}.${process.pid}.tmp`;
  try {
    mkdirSync(dirname(target), { recursive: true });
    const out = openSync(tmp, "w", 0o640);
    try {
      let first = true;
      for (const frame of frames(path)) {
        if (!frame.ok) return frame;
        // a frame is "[row,row,...]": its inside joins the others
        writeFully(out, Buffer.from(first ? "[" : ","));
        writeFully(out, frame.value.subarray(1, frame.value.length - 1));
        first = false;
      }
      writeFully(out, Buffer.from(first ? "[]\n" : "]\n"));
      fsyncSync(out);
    } finally {
      closeSync(out);
    }
    renameSync(tmp, target);
    syncDirectory(dirname(target));
    return ok(undefined);
  } catch (e) {
    rmSync(tmp, { force: true });
    return fail("io", `cannot write ${target}: ${diskReason(e)}`);
  }
}

/** Removes a spool file (its unit is stored or set aside). */
export function removeSpool(path: string): void {
  rmSync(path, { force: true });
}

function mergeType(types: Map<string, ColumnType>, key: string, v: unknown): void {
  const t = typeOfValue(v);
  const prev = types.get(key);
  if (t === undefined) {
    if (prev === undefined) types.set(key, "text");
    return;
  }
  types.set(key, prev === undefined ? t : widerType(prev, t));
}


function drop<T>(fd: number, path: string, why: Result<never>): Result<T> {
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
  rmSync(path, { force: true });
  return why;
}


