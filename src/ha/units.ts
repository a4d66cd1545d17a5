/**
 * @module ha/units
 * What the members of a cluster exchange: units of stored data, each known by its tsd_info
 * hash. `holdings` lists the units this node holds over a date range (what `get tsd details`
 * answers a peer); `readUnit` reads a unit's rows back from its table (by the file id its
 * rows are tagged with), with the table's column types; `storeUnit` stores a unit a peer
 * sent through the intake under the same hash, its source `ha:<member>` naming where it came
 * from — such units are never distributed again. The database is the archive: nothing is
 * kept twice on disk.
 */
import { readColumns } from "../ingest/columns.ts";
import { BOOKKEEPING, type ColumnType } from "../ingest/columns.ts";
import { intakeOf, NO_OPERATOR } from "../ingest/intake.ts";
import type { DataRow } from "../ingest/rows.ts";
import { TSD_DBMS, requireTsdInfo } from "../ingest/tsd-info.ts";
import type { Node } from "../node/node.ts";
import { nodeSlot } from "../node/slot.ts";
import { quoteName } from "../storage/database.ts";
import { type Result, fail, ok } from "../util/result.ts";

/** The source of a unit a cluster peer sent (`ha:<member>`). */
export const HA_SOURCE = "ha:";
export const fromPeer = (source: string) => source.startsWith(HA_SOURCE);

export interface Holding {
  hash: string;
  dbms: string;
  table: string;
  rows: number;
  /** When it was stored here (tsd_info file_time). */
  time: string;
  source: string;
  fileId: number;
}

export interface Unit {
  dbms: string;
  table: string;
  hash: string;
  rows: DataRow[];
  /** The table's column types (bookkeeping columns left out). */
  types: Record<string, ColumnType>;
}

/** A date as `get tsd` and the consumer take it: `-30d` (or `-30`, days, as seed 003 writes it), `-2h`, `-15m`, or a date/time text; undefined for none. */
export function parseDate(text: string | undefined, now = Date.now()): Result<string | undefined> {
  if (text === undefined || text.trim() === "") return ok(undefined);
  const t = text.trim();
  const rel = /^-(\d+)\s*([dhm])?$/i.exec(t);
  if (rel) {
    const unit = { d: 86_400_000, h: 3_600_000, m: 60_000 }[(rel[2] ?? "d").toLowerCase() as "d" | "h" | "m"];
    return ok(new Date(now - Number(rel[1]) * unit).toISOString());
  }
  // YY-MM-DD as AnyLog writes it short
  const full = /^\d{2}-\d{2}-\d{2}(\s|T|$)/.test(t) ? `20${t}` : t;
  const iso = full.replace(" ", "T");
  // (a time without a zone is UTC, as tsd_info keeps its times)
  const ms = Date.parse(/T/.test(iso) && !/(Z|[+-]\d{2}:?\d{2})$/i.test(iso) ? `${iso}Z` : iso);
  return Number.isFinite(ms) ? ok(new Date(ms).toISOString()) : fail("bad_value", `'${text}' is not a date: give -30d, -12h, -30m, or 'YY-MM-DD HH:MM:SS'`);
}

/** The units this node holds, stored between `start` and `end` (ISO times; either may be open). */
export async function holdings(node: Node, range: { start?: string; end?: string; hash?: string; limit?: number } = {}): Promise<Result<Holding[]>> {
  const tsd = await requireTsdInfo(node.databases.get(TSD_DBMS));
  if (!tsd.ok) return tsd;
  const where = ["status = 'stored'"];
  const params: unknown[] = [];
  if (range.start) {
    params.push(range.start);
    where.push("file_time >= ?");
  }
  if (range.end) {
    params.push(range.end);
    where.push("file_time < ?");
  }
  if (range.hash) {
    params.push(range.hash);
    where.push("file_hash = ?");
  }
  const limit = range.limit && range.limit > 0 ? ` LIMIT ${Math.floor(range.limit)}` : "";
  const sql = `SELECT file_id, dbms_name, table_name, source, file_hash, file_time, rows FROM tsd_info WHERE ${where.join(" AND ")} ORDER BY file_id${limit}`;
  const r = await tsd.value.query(sql, params);
  if (!r.ok) return r;
  return ok(
    r.value.map((x) => ({
      hash: String(x.file_hash),
      dbms: String(x.dbms_name),
      table: String(x.table_name),
      rows: Number(x.rows),
      time: String(x.file_time),
      source: String(x.source ?? ""),
      fileId: Number(x.file_id),
    })),
  );
}

/** Holdings of a range as last read, and the state of tsd_info they were read at. */
const lastRead = nodeSlot(() => new Map<string, { version: string; list: Holding[] }>());

/**
 * The units stored between `start` and `end`, read again only when tsd_info changed since
 * (how many units it holds stored, its newest file id): the consumer compares every few
 * seconds, and each member asks for the same digest, so an idle cluster reads almost nothing.
 */
export async function currentHoldings(node: Node, range: { start?: string; end?: string }): Promise<Result<Holding[]>> {
  const tsd = await requireTsdInfo(node.databases.get(TSD_DBMS));
  if (!tsd.ok) return tsd;
  const state = await tsd.value.query("SELECT count(*) AS n, max(file_id) AS top FROM tsd_info WHERE status = 'stored'");
  if (!state.ok) return state;
  const version = `${String(state.value[0]?.n)}/${String(state.value[0]?.top)}`;
  const key = `${range.start ?? ""}|${range.end ?? ""}`;
  const cache = lastRead(node);
  const known = cache.get(key);
  if (known?.version === version) return ok(known.list);
  const read = await holdings(node, range);
  if (!read.ok) return read;
  if (cache.size >= 8) cache.clear(); // (a few ranges are asked at a time: the consumer's, its peers')
  cache.set(key, { version, list: read.value });
  return read;
}

/** Per UTC day (YYYY-MM-DD of the time stored): how many units, and one hash of all their hashes. */
export type Digest = Record<string, { units: number; hash: string }>;

/** Digests made, by the list they digest (a list currentHoldings keeps is digested once). */
const digests = new WeakMap<Holding[], Digest>();

/** The digest of `list`: two nodes whose digests agree on a day hold the same units that day. */
export function digestOf(list: Holding[]): Digest {
  const known = digests.get(list);
  if (known) return known;
  const digest = makeDigest(list);
  digests.set(list, digest);
  return digest;
}

function makeDigest(list: Holding[]): Digest {
  const days = new Map<string, string[]>();
  for (const h of list) {
    const day = h.time.slice(0, 10);
    const hashes = days.get(day) ?? [];
    hashes.push(h.hash);
    days.set(day, hashes);
  }
  const out: Digest = {};
  for (const [day, hashes] of days) out[day] = { units: hashes.length, hash: new Bun.CryptoHasher("md5").update(hashes.sort().join("\n")).digest("hex") };
  return out;
}

/** tsd_info entries after `fileId`, in file id order, whatever their status (a distributor's next units). */
export async function unitsAfter(node: Node, fileId: number, limit: number): Promise<Result<Array<{ fileId: number; hash: string; status: string; source: string; time: string }>>> {
  const tsd = await requireTsdInfo(node.databases.get(TSD_DBMS));
  if (!tsd.ok) return tsd;
  const r = await tsd.value.query(`SELECT file_id, file_hash, status, source, file_time FROM tsd_info WHERE file_id > ? ORDER BY file_id LIMIT ${Math.floor(limit)}`, [fileId]);
  if (!r.ok) return r;
  return ok(r.value.map((x) => ({ fileId: Number(x.file_id), hash: String(x.file_hash), status: String(x.status), source: String(x.source ?? ""), time: String(x.file_time) })));
}

/** How many units stored here first come after `fileId` (a distributor's pending ones for a member). */
export async function pendingAfter(node: Node, fileId: number): Promise<Result<number>> {
  const tsd = await requireTsdInfo(node.databases.get(TSD_DBMS));
  if (!tsd.ok) return tsd;
  const r = await tsd.value.query(`SELECT count(*) AS n FROM tsd_info WHERE file_id > ? AND status = 'stored' AND source NOT LIKE '${HA_SOURCE}%'`, [fileId]);
  return r.ok ? ok(Number(r.value[0]?.n ?? 0)) : r;
}

/** A unit's rows, read back from its table, with the table's column types. */
export async function readUnit(node: Node, hash: string): Promise<Result<Unit>> {
  const found = await holdings(node, { hash });
  if (!found.ok) return found;
  const h = found.value[0];
  if (!h) return fail("not_found", `no stored unit has hash ${hash} here`);
  const db = node.databases.require(h.dbms);
  if (!db.ok) return db;
  const columns = await readColumns(db.value, h.table);
  if (!columns.ok) return columns;
  if (!columns.value) return fail("not_found", `table ${h.dbms}.${h.table} of unit ${hash} is not here`);
  const kept = [...columns.value].filter(([c]) => !(BOOKKEEPING as readonly string[]).includes(c));
  const list = kept.map(([c]) => quoteName(c)).join(", ");
  const r = await db.value.query(`SELECT ${list} FROM ${quoteName(h.table)} WHERE tsd_id = ? ORDER BY row_id`, [h.fileId]);
  if (!r.ok) return r;
  const rows = r.value.map((row) => {
    const out: DataRow = {};
    for (const [c] of kept) if (row[c] !== null && row[c] !== undefined) out[c] = row[c] instanceof Date ? (row[c] as Date).toISOString() : row[c];
    return out;
  });
  return ok({ dbms: h.dbms, table: h.table, hash, rows, types: Object.fromEntries(kept) });
}

/** Stores a unit a peer sent (once: its hash); `origin` is the member it came from. */
export async function storeUnit(node: Node, unit: Unit, origin: number): Promise<Result<{ rows: number; duplicate: boolean }>> {
  const intake = intakeOf(node);
  if (!intake) return fail("unavailable", NO_OPERATOR);
  const r = await intake.putRows(unit.dbms, unit.table, unit.rows, `${HA_SOURCE}${origin}`, { types: new Map(Object.entries(unit.types)), hash: unit.hash });
  return r.ok ? ok({ rows: r.value.rows, duplicate: r.value.via === "duplicate" }) : r;
}
