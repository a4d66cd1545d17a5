/**
 * @module blobs/sql-store
 * Blobs in a connected SQL database (SQLite or PostgreSQL, through the storage layer): the
 * metadata in `blobs_files`, the bytes in `blobs_chunks` as 1 MiB rows, so a large blob is
 * written and read a chunk at a time. Chunks are written under a pending id first, each on
 * its own; one short transaction then names them and adds the metadata, so a failure (or a
 * reader) never sees part of a blob. The pending id carries its time: chunks a crash left
 * pending (no put can still be writing them an hour later) are removed when the store opens.
 */
import { randomUUID } from "node:crypto";
import type { Database, Row } from "../storage/database.ts";
import { type Result, fail, ok } from "../util/result.ts";
import {
  type BlobCount,
  type BlobFilter,
  type BlobInfo,
  type BlobKey,
  type BlobReader,
  type BlobSource,
  type BlobStore,
  idTaken,
  sourceChunks,
} from "./store.ts";

const FILES = "blobs_files";
const CHUNKS = "blobs_chunks";
const PENDING = ".pending.";
/** Chunks pending for longer than this were left by a put that ended (a crash): no put takes an hour. */
const ABANDONED_MS = 60 * 60 * 1000;

/** A pending id: the time it was made, then a unique part. */
const pendingId = (now = Date.now()) => `${PENDING}${now}.${randomUUID()}`;

/** Whether chunks under `id` were left by a put that can no longer be writing them (ids of older builds carry no time). */
export function abandoned(id: string, now = Date.now()): boolean {
  if (!id.startsWith(PENDING)) return false;
  const made = Number(id.slice(PENDING.length).split(".")[0]);
  return !Number.isFinite(made) || now - made > ABANDONED_MS;
}

function createStatements(engine: Database["engine"]): string[] {
  const bytes = engine === "psql" ? "BYTEA" : "BLOB";
  return [
    `CREATE TABLE IF NOT EXISTS ${FILES} (tbl VARCHAR(64) NOT NULL, id VARCHAR(200) NOT NULL, hash VARCHAR(64) NOT NULL, extension VARCHAR(10) NOT NULL, date_key CHAR(6) NOT NULL, size BIGINT NOT NULL, chunks INTEGER NOT NULL, PRIMARY KEY (tbl, id))`,
    `CREATE INDEX IF NOT EXISTS ${FILES}_hash ON ${FILES} (tbl, hash)`,
    `CREATE TABLE IF NOT EXISTS ${CHUNKS} (tbl VARCHAR(64) NOT NULL, id VARCHAR(200) NOT NULL, seq INTEGER NOT NULL, data ${bytes} NOT NULL, PRIMARY KEY (tbl, id, seq))`,
  ];
}

/** The WHERE of a filter (the dbms is the database itself) and its parameters. */
function where(filter: BlobFilter): { sql: string; params: unknown[] } {
  const terms: string[] = [];
  const params: unknown[] = [];
  const add = (sql: string, v: unknown) => {
    terms.push(sql);
    params.push(v);
  };
  if (filter.table !== undefined) add("tbl = ?", filter.table);
  if (filter.id !== undefined) add("id = ?", filter.id);
  if (filter.hash !== undefined) add("hash = ?", filter.hash);
  if (filter.date !== undefined) add("date_key = ?", filter.date);
  if (filter.from !== undefined) add("date_key >= ?", filter.from);
  if (filter.to !== undefined) add("date_key <= ?", filter.to);
  return { sql: terms.length ? ` WHERE ${terms.join(" AND ")}` : "", params };
}

export class SqlStore implements BlobStore {
  private ready?: Promise<Result<void>>;

  constructor(readonly db: Database) {}

  get kind(): string {
    return this.db.engine;
  }

  describe(): string {
    return `${this.db.engine} dbms '${this.db.name}' (tables ${FILES}, ${CHUNKS})`;
  }

  /** Creates the two tables once per store (an existing pair is left as it is). */
  private ensure(): Promise<Result<void>> {
    this.ready ??= (async () => {
      for (const s of createStatements(this.db.engine)) {
        const r = await this.db.exec(s);
        if (!r.ok) {
          this.ready = undefined; // the server may come back: try again on the next call
          return fail(r.error.code === "io" ? "unavailable" : r.error.code, `blobs tables in dbms '${this.db.name}': ${r.error.message}`);
        }
      }
      return this.removeAbandoned();
    })();
    return this.ready;
  }

  /** Removes the chunks of puts a crash ended before they were named. */
  private async removeAbandoned(): Promise<Result<void>> {
    const pending = await this.db.query(`SELECT DISTINCT tbl, id FROM ${CHUNKS} WHERE id LIKE ?`, [`${PENDING}%`]);
    if (!pending.ok) return pending;
    for (const r of pending.value) {
      if (!abandoned(String(r.id))) continue;
      const removed = await this.db.exec(`DELETE FROM ${CHUNKS} WHERE tbl = ? AND id = ?`, [r.tbl, r.id]);
      if (!removed.ok) return removed;
    }
    return ok(undefined);
  }

  private info(dbms: string, r: Row): BlobInfo {
    return { dbms, table: String(r.tbl), id: String(r.id), hash: String(r.hash), extension: String(r.extension), date: String(r.date_key), size: Number(r.size) };
  }

  private async row(key: BlobKey): Promise<Result<Row | undefined>> {
    const r = await this.db.query(`SELECT tbl, id, hash, extension, date_key, size, chunks FROM ${FILES} WHERE tbl = ? AND id = ?`, [key.table, key.id]);
    return r.ok ? ok(r.value[0]) : r;
  }

  async put(source: BlobSource, info: BlobInfo): Promise<Result<BlobInfo>> {
    const ready = await this.ensure();
    if (!ready.ok) return ready;
    const before = await this.row(info);
    if (!before.ok) return before;
    if (before.value) return String(before.value.hash) === info.hash ? ok(this.info(info.dbms, before.value)) : idTaken(info, this.describe());
    const pending = pendingId();
    const dropPending = () => this.db.exec(`DELETE FROM ${CHUNKS} WHERE tbl = ? AND id = ?`, [info.table, pending]);
    let seq = 0;
    try {
      for await (const chunk of sourceChunks(source)) {
        const r = await this.db.exec(`INSERT INTO ${CHUNKS} (tbl, id, seq, data) VALUES (?, ?, ?, ?)`, [info.table, pending, seq++, Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)]);
        if (!r.ok) {
          await dropPending();
          return r;
        }
      }
    } catch (e) {
      await dropPending();
      return fail("io", `cannot read the blob for ${info.id}: ${e instanceof Error ? e.message : String(e)}`);
    }
    const named = await this.db.transaction(async (tx) => {
      const moved = await tx.exec(`UPDATE ${CHUNKS} SET id = ? WHERE tbl = ? AND id = ?`, [info.id, info.table, pending]);
      if (!moved.ok) return moved;
      return tx.exec(`INSERT INTO ${FILES} (tbl, id, hash, extension, date_key, size, chunks) VALUES (?, ?, ?, ?, ?, ?, ?)`, [info.table, info.id, info.hash, info.extension, info.date, info.size, seq]);
    });
    if (!named.ok) {
      await dropPending();
      // stored meanwhile by another put of the same id?
      const now = await this.row(info);
      if (now.ok && now.value) return String(now.value.hash) === info.hash ? ok(this.info(info.dbms, now.value)) : idTaken(info, this.describe());
      return named;
    }
    return ok(info);
  }

  async open(key: BlobKey): Promise<Result<BlobReader>> {
    const ready = await this.ensure();
    if (!ready.ok) return ready;
    const found = await this.row(key);
    if (!found.ok) return found;
    if (!found.value) return fail("not_found", `no blob '${key.id}' in ${key.dbms}.${key.table} (${this.describe()})`);
    const count = Number(found.value.chunks);
    const db = this.db;
    return ok({
      info: this.info(key.dbms, found.value),
      async *chunks() {
        for (let seq = 0; seq < count; seq++) {
          const r = await db.query(`SELECT data FROM ${CHUNKS} WHERE tbl = ? AND id = ? AND seq = ?`, [key.table, key.id, seq]);
          if (!r.ok) throw new Error(r.error.message);
          const data = r.value[0]?.data;
          if (!(data instanceof Uint8Array)) throw new Error(`blob ${key.id}: chunk ${seq} is missing`);
          yield data;
        }
      },
    });
  }

  async remove(filter: BlobFilter): Promise<Result<number>> {
    const listed = await this.list(filter);
    if (!listed.ok) return listed;
    let removed = 0;
    for (const b of listed.value) {
      const r = await this.db.transaction(async (tx) => {
        const files = await tx.exec(`DELETE FROM ${FILES} WHERE tbl = ? AND id = ?`, [b.table, b.id]);
        if (!files.ok) return files;
        const chunks = await tx.exec(`DELETE FROM ${CHUNKS} WHERE tbl = ? AND id = ?`, [b.table, b.id]);
        return chunks.ok ? ok(files.value.changes) : chunks;
      });
      if (!r.ok) return fail(r.error.code, `removed ${removed} blobs, then: ${r.error.message}`);
      removed += r.value;
    }
    return ok(removed);
  }

  async list(filter: BlobFilter): Promise<Result<BlobInfo[]>> {
    const ready = await this.ensure();
    if (!ready.ok) return ready;
    const w = where(filter);
    const limit = filter.limit !== undefined ? ` LIMIT ${Math.max(0, Math.floor(filter.limit))}` : "";
    const r = await this.db.query(`SELECT tbl, id, hash, extension, date_key, size FROM ${FILES}${w.sql} ORDER BY date_key, tbl, id${limit}`, w.params);
    return r.ok ? ok(r.value.map((row) => this.info(filter.dbms, row))) : r;
  }

  async count(filter: BlobFilter): Promise<Result<BlobCount[]>> {
    const ready = await this.ensure();
    if (!ready.ok) return ready;
    const w = where(filter);
    const r = await this.db.query(`SELECT tbl, COUNT(*) AS n FROM ${FILES}${w.sql} GROUP BY tbl ORDER BY tbl`, w.params);
    return r.ok ? ok(r.value.map((row) => ({ dbms: filter.dbms, table: String(row.tbl), files: Number(row.n) }))) : r;
  }

  async findHash(dbms: string, table: string, hash: string): Promise<Result<BlobInfo | undefined>> {
    const r = await this.list({ dbms, table, hash, limit: 1 });
    return r.ok ? ok(r.value[0]) : r;
  }

  /** The database belongs to `connect dbms`: it stays open. */
  async close(): Promise<void> {}
}
