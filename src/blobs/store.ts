/**
 * @module blobs/store
 * The one blob-store interface (images, video, sound: files kept apart from the rows that
 * name them) and what every store shares: the blob's key (dbms, table, id), its metadata
 * (md5 hash, extension, YYMMDD date in UTC, size), filters for list / count / remove, and
 * `putBlob`, which hashes the source, reuses an identical blob when asked, and hands the
 * bytes to a store a chunk at a time. The folder, SQL (SQLite / PostgreSQL) and MongoDB
 * GridFS stores implement it; `blobs/store.contract.test.ts` runs one suite against each.
 */
import { createHash } from "node:crypto";
import { statSync } from "node:fs";
import { open } from "node:fs/promises";
import { type Result, errorText, fail, ok } from "../util/result.ts";

/** Where a blob is: its logical database, its table, and its id (file name, unique per table). */
export interface BlobKey {
  dbms: string;
  table: string;
  id: string;
}

/** A stored blob's metadata. */
export interface BlobInfo extends BlobKey {
  /** The md5 of the bytes (hex), or the unique value the user gave as `hash`. */
  hash: string;
  /** Without the dot; "" when none. */
  extension: string;
  /** YYMMDD in UTC: the day it was stored (or the date given). */
  date: string;
  /** Bytes. */
  size: number;
}

/** The bytes of a blob: in memory, or a file read a chunk at a time. */
export type BlobSource = { bytes: Uint8Array } | { path: string };

/** Which blobs (list, count, remove): `dbms` always; the rest narrow it. Dates are YYMMDD. */
export interface BlobFilter {
  dbms: string;
  table?: string;
  id?: string;
  hash?: string;
  date?: string;
  from?: string;
  to?: string;
  limit?: number;
}

/** A stored blob opened for reading: its metadata and its bytes, a chunk at a time. */
export interface BlobReader {
  info: BlobInfo;
  chunks(): AsyncIterable<Uint8Array>;
}

/** Files per dbms.table (`get files count`). */
export interface BlobCount {
  dbms: string;
  table: string;
  files: number;
}

/**
 * A place blobs are kept. Contract:
 * - `put` stores the whole source under `info`'s key or nothing (a failure leaves no part);
 *   it fails with `conflict` when the key holds other bytes (a different hash);
 * - `open`, `remove`, `list`, `count`, `findHash` see only blobs whose `put` completed;
 * - `open` of a key not stored is `not_found`; an unreachable store is `unavailable`.
 */
export interface BlobStore {
  /** "folder", "sqlite", "psql", "mongo". */
  readonly kind: string;
  /** Where it keeps blobs (no secrets), for replies. */
  describe(): string;
  put(source: BlobSource, info: BlobInfo): Promise<Result<BlobInfo>>;
  open(key: BlobKey): Promise<Result<BlobReader>>;
  /** Removes the blobs the filter names; the number removed. */
  remove(filter: BlobFilter): Promise<Result<number>>;
  /** Oldest first (by date, then id), at most `limit`. */
  list(filter: BlobFilter): Promise<Result<BlobInfo[]>>;
  count(filter: BlobFilter): Promise<Result<BlobCount[]>>;
  /** A blob of dbms.table with this hash (for reuse), or undefined. */
  findHash(dbms: string, table: string, hash: string): Promise<Result<BlobInfo | undefined>>;
  close(): Promise<void>;
}

/** What a caller asks to store; missing parts are filled by `putBlob`. */
export interface PutRequest {
  dbms: string;
  table: string;
  id?: string;
  hash?: string;
  extension?: string;
  date?: string;
}

export interface PutOutcome {
  info: BlobInfo;
  /** An identical blob (same hash) was already there and is referenced instead of stored again. */
  reused: boolean;
}

/** Chunks stores write and read (1 MiB): a large blob is never held whole. */
export const CHUNK_BYTES = 1024 * 1024;

/** YYMMDD of `d` in UTC. */
export function dateKey(d: Date = new Date()): string {
  return d.toISOString().slice(2, 10).replaceAll("-", "");
}

const NAME = /^[a-z0-9_][a-z0-9_-]{0,62}$/;
const ID = /^[^/\\\0]{1,200}$/;

/** A dbms or table name as stores use it (lower case), or why it is not one. */
export function blobName(kind: "dbms" | "table", name: string): Result<string> {
  const n = name.trim().toLowerCase();
  return NAME.test(n) ? ok(n) : fail("bad_value", `'${name}' is not a ${kind} name for blobs (letters, digits, _ and -; up to 63)`);
}

/** A blob id (a file name, no folders, not starting with a dot), or why it is not one. */
export function blobId(id: string): Result<string> {
  const i = id.trim();
  if (!ID.test(i) || i.startsWith(".") || i.endsWith(".tmp")) return fail("bad_value", `'${id}' is not a blob id: a file name without '/' that does not start with '.'`);
  return ok(i);
}

/** A YYMMDD date key (or a YYYY-MM-DD date, turned into one), or why it is not one. */
export function dateOption(value: string, what: string): Result<string> {
  const v = value.trim();
  if (/^\d{6}$/.test(v)) return ok(v);
  const m = /^\d{2}(\d{2})-(\d{2})-(\d{2})$/.exec(v);
  if (m) return ok(`${m[1]}${m[2]}${m[3]}`);
  return fail("bad_value", `${what} '${value}' is not a date: YYMMDD (UTC), e.g. ${dateKey()}`);
}

/** Whether `info` passes `filter` (everything but the limit). */
export function matches(info: BlobInfo, filter: BlobFilter): boolean {
  if (info.dbms !== filter.dbms) return false;
  if (filter.table !== undefined && info.table !== filter.table) return false;
  if (filter.id !== undefined && info.id !== filter.id) return false;
  if (filter.hash !== undefined && info.hash !== filter.hash) return false;
  if (filter.date !== undefined && info.date !== filter.date) return false;
  if (filter.from !== undefined && info.date < filter.from) return false;
  if (filter.to !== undefined && info.date > filter.to) return false;
  return true;
}

/** Oldest first, then by table and id: the order every store lists in. */
export function byDateThenId(a: BlobInfo, b: BlobInfo): number {
  return a.date.localeCompare(b.date) || a.table.localeCompare(b.table) || a.id.localeCompare(b.id);
}

/** The source's bytes a chunk at a time (a file is read as it goes, never whole). */
export async function* sourceChunks(source: BlobSource, chunkBytes = CHUNK_BYTES): AsyncGenerator<Uint8Array> {
  if ("bytes" in source) {
    for (let i = 0; i < source.bytes.length; i += chunkBytes) yield source.bytes.subarray(i, i + chunkBytes);
    return;
  }
  yield* fileChunks(source.path, chunkBytes);
}

/** A file's bytes a chunk at a time (each chunk a new buffer: a consumer may keep it). */
export async function* fileChunks(path: string, chunkBytes = CHUNK_BYTES): AsyncGenerator<Uint8Array> {
  const file = await open(path, "r");
  try {
    for (;;) {
      const buffer = Buffer.allocUnsafe(chunkBytes);
      const { bytesRead } = await file.read(buffer, 0, chunkBytes, null);
      if (bytesRead === 0) return;
      yield bytesRead === chunkBytes ? buffer : buffer.subarray(0, bytesRead);
    }
  } finally {
    await file.close();
  }
}

/** The md5 (hex) and size of a source; a file is read a chunk at a time. */
export async function hashSource(source: BlobSource): Promise<Result<{ hash: string; size: number }>> {
  const md5 = createHash("md5");
  let size = 0;
  try {
    if ("path" in source && !statSync(source.path).isFile()) return fail("bad_value", `'${source.path}' is not a file`);
    for await (const chunk of sourceChunks(source)) {
      md5.update(chunk);
      size += chunk.length;
    }
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return fail("not_found", `no file '${"path" in source ? source.path : ""}'`);
    return fail("io", `cannot read the blob: ${errorText(e)}`);
  }
  return ok({ hash: md5.digest("hex"), size });
}

/** The extension of a file name, without the dot ("" when none). */
export function extensionOf(name: string): string {
  const m = /\.([A-Za-z0-9]{1,10})$/.exec(name);
  return m ? m[1]!.toLowerCase() : "";
}

/**
 * Stores `source` in `store`: its md5 is the hash (a `hash` given that looks like an md5 must
 * be it), the id defaults to `<hash>.<extension>`, the date to today. With `reuse`, a blob of
 * the same table with the same hash is referenced instead of stored again; the same id with
 * the same hash is always taken as stored already.
 */
export async function putBlob(store: BlobStore, source: BlobSource, request: PutRequest, options: { reuse?: boolean } = {}): Promise<Result<PutOutcome>> {
  const dbms = blobName("dbms", request.dbms);
  if (!dbms.ok) return dbms;
  const table = blobName("table", request.table);
  if (!table.ok) return table;
  const summed = await hashSource(source);
  if (!summed.ok) return summed;
  const given = request.hash?.trim();
  if (given && /^[0-9a-f]{32}$/i.test(given) && given.toLowerCase() !== summed.value.hash) {
    return fail("bad_value", `hash ${given} is not the md5 of the file (${summed.value.hash}): leave hash out to have it computed`);
  }
  const hash = given ? given.toLowerCase() : summed.value.hash;
  const extension = (request.extension ?? (request.id ? extensionOf(request.id) : "")).replace(/^\./, "").toLowerCase();
  if (extension && !/^[a-z0-9]{1,10}$/.test(extension)) return fail("bad_value", `'${extension}' is not a file extension (letters and digits, up to 10)`);
  const id = blobId(request.id ?? (extension ? `${hash}.${extension}` : hash));
  if (!id.ok) return id;
  let date = dateKey();
  if (request.date) {
    const d = dateOption(request.date, "date");
    if (!d.ok) return d;
    date = d.value;
  }
  if (options.reuse) {
    const found = await store.findHash(dbms.value, table.value, hash);
    if (!found.ok) return found;
    if (found.value) return ok({ info: found.value, reused: true });
  }
  const info: BlobInfo = { dbms: dbms.value, table: table.value, id: id.value, hash, extension, date, size: summed.value.size };
  const stored = await store.put(source, info);
  if (!stored.ok) return stored;
  return ok({ info: stored.value, reused: false });
}

/** The conflict `put` answers when the id holds other bytes. */
export function idTaken(info: BlobInfo, where: string): Result<never> {
  return fail("conflict", `${where} already holds a different blob named '${info.id}' in ${info.dbms}.${info.table}: remove it first ('file remove where dbms = ${info.dbms} and table = ${info.table} and id = ${info.id}') or store under another id`);
}

/** Writes chunks to a new file at `path` (created, or truncated), each as it comes; the md5 of what was written. */
export async function writeChunks(path: string, chunks: AsyncIterable<Uint8Array>): Promise<string> {
  const md5 = createHash("md5");
  const file = await open(path, "w", 0o640);
  try {
    for await (const chunk of chunks) {
      md5.update(chunk);
      let done = 0;
      while (done < chunk.length) done += (await file.write(chunk, done, chunk.length - done)).bytesWritten;
    }
    await file.sync();
  } finally {
    await file.close();
  }
  return md5.digest("hex");
}
