/**
 * @module ingest/ingest
 * Storing data exactly once. A unit (a file, or one REST body) is claimed in tsd_info by
 * its hash, its rows are written to the data table in one transaction tagged with the
 * claim's file id, and the claim is then marked stored. Units that arrive together are
 * written in one transaction (their rows in shared multi-row INSERTs); if that fails for
 * the data, each half is tried again, down to the bad units alone, so one bad unit does not
 * sink the others. After a crash, a claim left half-done is settled by looking for its rows.
 * Each step is made durable before the next (SQLite commits are not synced by themselves):
 * the claim before the rows, the rows before the claim is marked stored, and all of it
 * before the outcomes are returned, so a power cut leaves a claim that can be settled.
 */
import type { Node } from "../node/node.ts";
import { type Database, quoteName } from "../storage/database.ts";
import { KeyedLock } from "../util/keyed-lock.ts";
import { AnyLogError, type Result, fail, ok } from "../util/result.ts";
import type { DataRow } from "./rows.ts";
import type { ColumnType } from "./columns.ts";
import { type ClaimResult, TSD_DBMS, claim, requireTsdInfo, settle } from "./tsd-info.ts";
import { type SpooledRows, spooledChunks } from "./spool.ts";
import { SharedInserts, type WriteOptions, type WriteReport, forgetColumns, writeRows } from "./table-writer.ts";
import { partitionRules } from "./partitions.ts";

export interface IngestUnit {
  hash: string;
  source: string;
  instructions?: string;
  rows: DataRow[];
  /** A body too big to hold: its rows are in a spool file, read chunk by chunk (then `rows` is empty). */
  spooled?: SpooledRows;
  /**
   * Column types its sender declared (a message client's mapping: `float` for a value that
   * came as 20): a new table or column takes them instead of the types the values suggest.
   */
  types?: Map<string, ColumnType>;
}

/** How many rows a unit holds. */
export const rowCount = (u: IngestUnit): number => u.spooled?.rows ?? u.rows.length;

export type UnitOutcome =
  | { status: "stored"; rows: number; fileId: number }
  | { status: "duplicate"; rows: number; fileId: number }
  | { status: "failed"; error: AnyLogError };

/**
 * A failure whose cause is outside the data (the disk is full, the database is down or
 * busy): the data is kept to be tried again, not refused as bad.
 */
export function isTransient(error: AnyLogError): boolean {
  return error.code === "io" || error.code === "unavailable" || error.code === "timeout";
}

export interface IngestOptions {
  createTable: boolean;
  /** Record units in almgm.tsd_info (and refuse a hash stored before). */
  updateTsdInfo: boolean;
  /** Where a `table` policy for a new table is sent (besides the local copy). */
  master?: string;
}

/**
 * One writer per table at a time, per node: the streaming buffers and the operator's file
 * workers may store into one table together, and on PostgreSQL two transactions creating
 * the same table (or adding the same column) fail. It also keeps one hash to one writer:
 * the hash covers the table, and a claim still `processing` is taken to be left by a crash.
 */
const tableLocks = new WeakMap<Node, KeyedLock>();

/** Runs `work` as the only writer of `dbms.table` on this node (ingest, dropping partitions). */
export function withTableLock<T>(node: Node, dbms: string, table: string, work: () => Promise<T>): Promise<T> {
  let lock = tableLocks.get(node);
  if (!lock) tableLocks.set(node, (lock = new KeyedLock()));
  return lock.run(`${dbms}.${table}`.toLowerCase(), work);
}

/** Stores units into `dbms.table`; one outcome per unit, in order. The same data twice is stored once. */
export function ingestUnits(node: Node, dbms: string, table: string, units: IngestUnit[], options: IngestOptions): Promise<Result<UnitOutcome[]>> {
  return withTableLock(node, dbms, table, () => (options.updateTsdInfo ? storeOncePerHash(node, dbms, table, units, options) : storeUnits(node, dbms, table, units, options)));
}

/** Units with the same hash in one call: the first is stored, the others get its outcome as duplicates. */
async function storeOncePerHash(node: Node, dbms: string, table: string, units: IngestUnit[], options: IngestOptions): Promise<Result<UnitOutcome[]>> {
  const firstOf = new Map<string, number>();
  const unique: IngestUnit[] = [];
  const index = units.map((u) => {
    let i = firstOf.get(u.hash);
    if (i === undefined) {
      i = unique.push(u) - 1;
      firstOf.set(u.hash, i);
    }
    return i;
  });
  const r = await storeUnits(node, dbms, table, unique, options);
  if (!r.ok) return r;
  const answered = new Set<number>();
  return ok(
    index.map((i): UnitOutcome => {
      const o = r.value[i]!;
      if (!answered.has(i)) {
        answered.add(i);
        return o;
      }
      return o.status === "stored" ? { ...o, status: "duplicate" } : o;
    }),
  );
}

async function storeUnits(node: Node, dbms: string, table: string, units: IngestUnit[], options: IngestOptions): Promise<Result<UnitOutcome[]>> {
  const data = node.databases.require(dbms);
  if (!data.ok) return data;
  const tsd = options.updateTsdInfo ? await requireTsdInfo(node.databases.get(TSD_DBMS)) : undefined;
  if (tsd && !tsd.ok) return tsd;

  // 1. claim every unit's hash
  let claims: ClaimResult[];
  if (tsd) {
    const c = await claim(
      tsd.value,
      units.map((u) => ({ hash: u.hash, dbms, table, source: u.source, instructions: u.instructions ?? "" })),
    );
    if (!c.ok) return c;
    const synced = await tsd.value.durable();
    if (!synced.ok) return synced;
    claims = c.value;
  } else claims = units.map(() => ({ kind: "new", fileId: 0 }));

  const outcomes: Array<UnitOutcome | undefined> = units.map(() => undefined);
  const toWrite: number[] = [];
  for (const [i, c] of claims.entries()) {
    if (c.kind === "stored") outcomes[i] = { status: "duplicate", rows: c.rows, fileId: c.fileId };
    else if (c.kind === "unfinished") {
      const present = await rowsOf(data.value, table, c.fileId);
      if (present > 0) outcomes[i] = { status: "stored", rows: present, fileId: c.fileId }; // committed before a crash
      else toWrite.push(i);
    } else toWrite.push(i);
  }

  // 2. write the rows: together, else in halves
  const partition = partitionRules(node).find(dbms, table);
  const writeAll = async (indexes: number[]) => {
    const r = await data.value.transaction<WriteReport[]>(async (tx) => {
      // several units: each one's rows checked on its own, all of them inserted together
      const shared = indexes.length > 1 ? new SharedInserts() : undefined;
      const reports: WriteReport[] = [];
      for (const i of indexes) {
        const w = await writeUnit(tx, table, units[i]!, claims[i]!.fileId, { createTable: options.createTable, partition, shared });
        if (!w.ok) return w;
        reports.push(w.value);
      }
      const sent = shared ? await shared.send(tx) : ok(undefined);
      return sent.ok ? ok(reports) : sent;
    });
    if (!r.ok) {
      forgetColumns(data.value); // its DDL was rolled back with it
      return r;
    }
    const synced = await data.value.durable();
    return synced.ok ? r : synced;
  };
  const created: string[] = [];
  /**
   * Writes `indexes` in one transaction. When that fails for the data, the columns are read
   * again (a table dropped behind the node's back is made again) and each half is tried,
   * down to the bad units alone: one bad unit does not sink the others, and is found in a
   * few tries. `fresh`: the columns were just read again (a unit alone is tried once more if not).
   */
  const writeSplit = async (indexes: number[], fresh: boolean): Promise<void> => {
    const r = await writeAll(indexes);
    if (r.ok) {
      indexes.forEach((i, k) => {
        outcomes[i] = { status: "stored", rows: rowCount(units[i]!), fileId: claims[i]!.fileId };
        if (r.value[k]?.created) created.push(r.value[k]!.created!);
      });
    } else if (isTransient(r.error) || (indexes.length === 1 && fresh)) {
      for (const i of indexes) outcomes[i] = { status: "failed", error: r.error }; // (the database away: the others would fail alike)
    } else if (indexes.length === 1) {
      await writeSplit(indexes, true);
    } else {
      const half = Math.ceil(indexes.length / 2);
      await writeSplit(indexes.slice(0, half), true);
      await writeSplit(indexes.slice(half), true);
    }
  };
  if (toWrite.length > 0) await writeSplit(toWrite, false);

  // 3. settle the claims
  if (tsd) {
    const stored = outcomes.flatMap((o) => (o?.status === "stored" ? [{ fileId: o.fileId, rows: o.rows }] : []));
    const failed = toWrite.filter((i) => outcomes[i]?.status === "failed").map((i) => claims[i]!.fileId);
    const s = await settle(tsd.value, stored, failed);
    if (!s.ok) return s;
    const synced = await tsd.value.durable();
    if (!synced.ok) return synced;
  }
  const final = outcomes.map((o) => o ?? { status: "failed" as const, error: new AnyLogError("internal", "not written") });
  node.metrics.rowsIngested += final.reduce((n, o) => n + (o.status === "stored" ? o.rows : 0), 0);
  for (const createSql of created) await declareTable(node, dbms, table, createSql, options.master);
  return ok(final);
}

/** Writes a unit's rows: at once, or a spooled body chunk by chunk (same transaction, the whole body's column types). */
async function writeUnit(tx: Database, table: string, unit: IngestUnit, fileId: number, options: WriteOptions): Promise<Result<WriteReport>> {
  if (!unit.spooled) return writeRows(tx, table, unit.rows, fileId, unit.types ? { ...options, types: unit.types } : options);
  let created: string | undefined;
  let seen = 0;
  for (const chunk of spooledChunks(unit.spooled.path)) {
    if (!chunk.ok) return chunk;
    // (inserted chunk by chunk, never held for the others: its rows are too many to keep)
    const w = await writeRows(tx, table, chunk.value, fileId, { ...options, types: unit.spooled.types, shared: undefined });
    if (!w.ok) return seen > 0 ? fail(w.error.code, `after row ${seen}: ${w.error.message}`) : w;
    created ??= w.value.created;
    seen += chunk.value.length;
  }
  return ok({ rows: seen, created });
}

async function rowsOf(db: Database, table: string, fileId: number): Promise<number> {
  const r = await db.query(`SELECT count(*) AS n FROM ${quoteName(table)} WHERE tsd_id = ?`, [fileId]);
  return r.ok ? Number(r.value[0]?.n ?? 0) : 0;
}

/** A new table is declared on the metadata layer with its CREATE statement. */
async function declareTable(node: Node, dbms: string, table: string, createSql: string, master: string | undefined): Promise<void> {
  const r = await node.metadata.insert({ table: { name: table, dbms, create: createSql } }, { local: true, master });
  if (!r.ok) node.log.warn(`table ${dbms}.${table} created, but its table policy was not declared: ${r.error.message}`);
}
