/**
 * @module ingest/columns
 * Column types of user tables: inferred from data, read back from an existing table, written
 * as CREATE / ALTER statements per engine, and checked against each value before insert (so
 * a row whose types contradict the table is refused on SQLite as on PostgreSQL).
 * Every user table also has AnyLog's bookkeeping columns: row_id, insert_timestamp, tsd_name,
 * tsd_id (the file it came from, which makes re-ingesting after a crash detectable); a data key
 * of the same name gets another column name (rows.ts). Integers are 64-bit (SQLite INTEGER,
 * PostgreSQL BIGINT): beyond 2^53 they come as bigint, and a value is refused rather than
 * rounded into a column that cannot hold it.
 */
import { type Database, type Engine, quoteName } from "../storage/database.ts";
import { type Result, fail, ok } from "../util/result.ts";
import type { DataRow } from "./rows.ts";

export type ColumnType = "int" | "float" | "bool" | "timestamp" | "text";

export const BOOKKEEPING = ["row_id", "insert_timestamp", "tsd_name", "tsd_id"] as const;

/**
 * How times are stored: UTC as "YYYY-MM-DD HH:MM[:SS[.f]]", the same on both engines and in
 * time order as text (SQLite compares the text: "2026-01-01T09:00Z" sorts after
 * "2026-01-01 10:00"; PostgreSQL's timestamp drops a zone instead of applying it).
 */
const UTC_TEXT = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}(:\d{2}(\.\d+)?)?$/;

/** An ISO time with "T" or a zone as UTC text (the fraction kept to the digit); undefined if it is not one. */
export function utcText(text: string): string | undefined {
  const m = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}(?::\d{2})?)(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$/i.exec(text.trim());
  if (!m) return undefined;
  const [, date, time, fraction = "", zone = "Z"] = m as unknown as [string, string, string, string?, string?];
  const minutes = zone.toUpperCase() === "Z" ? 0 : (zone[0] === "-" ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(-2)));
  if (minutes === 0) return `${date} ${time}${fraction}`;
  const utc = new Date(Date.parse(`${date}T${time.length === 5 ? `${time}:00` : time}Z`) - minutes * 60_000).toISOString();
  return `${utc.slice(0, 10)} ${utc.slice(11, 11 + time.length)}${fraction}`;
}

/** A Date as stored (UTC text with milliseconds). */
const dateText = (d: Date) => d.toISOString().replace("T", " ").replace("Z", "");

/**
 * The instant a value names, read as it is stored: ISO text (UTC unless it says otherwise),
 * epoch seconds or milliseconds, or another form Date reads. What a time partition goes by.
 */
export function timeOf(v: unknown): Date | undefined {
  if (typeof v === "bigint") v = Number(v);
  if (typeof v === "number") return new Date(v > 1e12 ? v : v * 1000);
  if (typeof v !== "string") return undefined;
  const utc = utcText(v);
  const ms = utc ? Date.parse(`${utc.replace(" ", "T")}Z`) : Date.parse(v);
  return Number.isNaN(ms) ? undefined : new Date(ms);
}

export function typeOfValue(v: unknown): ColumnType | undefined {
  if (v === null || v === undefined) return undefined;
  if (typeof v === "boolean") return "bool";
  // a number beyond 2^53 is a float as sent (1e20); integers of more digits come as bigint (rows.ts)
  if (typeof v === "number") return Number.isSafeInteger(v) ? "int" : "float";
  if (typeof v === "bigint") return "int";
  if (typeof v === "string" && utcText(v) !== undefined) return "timestamp";
  return "text";
}

/** The type a column takes for values of both types: the same, float for int and float, else text. */
export function widerType(a: ColumnType, b: ColumnType): ColumnType {
  if (a === b) return a;
  return (a === "int" && b === "float") || (a === "float" && b === "int") ? "float" : "text";
}

/** The column types of rows: the widest type seen per key (int and float give float; others give text). */
export function inferColumns(rows: DataRow[]): Map<string, ColumnType> {
  const types = new Map<string, ColumnType>();
  for (const row of rows) {
    for (const [k, v] of Object.entries(row)) {
      const t = typeOfValue(v);
      if (!t) continue;
      const prev = types.get(k);
      types.set(k, prev ? widerType(prev, t) : t);
    }
    for (const k of Object.keys(row)) if (!types.has(k)) types.set(k, "text");
  }
  return types;
}

const SQL_TYPE: Record<Engine, Record<ColumnType, string>> = {
  sqlite: { int: "INTEGER", float: "REAL", bool: "BOOLEAN", timestamp: "TIMESTAMP", text: "VARCHAR" },
  psql: { int: "BIGINT", float: "DOUBLE PRECISION", bool: "BOOLEAN", timestamp: "TIMESTAMP", text: "VARCHAR" },
};

function typeFromSql(sqlType: string): ColumnType {
  const t = sqlType.toLowerCase();
  if (/int|serial/.test(t)) return "int";
  if (/real|double|float|numeric|decimal/.test(t)) return "float";
  if (/bool/.test(t)) return "bool";
  if (/timestamp|date|time/.test(t)) return "timestamp";
  return "text";
}

/**
 * CREATE TABLE for user data: the bookkeeping columns, then the data's. On SQLite row_id is
 * the rowid (INTEGER PRIMARY KEY, without AUTOINCREMENT, whose sequence table costs a
 * fifth of the insert time); an id may come back only after the newest rows are deleted.
 */
export function createTableSql(engine: Engine, table: string, columns: Map<string, ColumnType>): string {
  const bookkeeping =
    engine === "psql"
      ? ["row_id BIGSERIAL PRIMARY KEY", "insert_timestamp TIMESTAMP NOT NULL DEFAULT NOW()", "tsd_name CHAR(3)", "tsd_id BIGINT"]
      : ["row_id INTEGER PRIMARY KEY", "insert_timestamp TIMESTAMP NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now'))", "tsd_name CHAR(3)", "tsd_id INTEGER"];
  const user = [...columns].filter(([c]) => !(BOOKKEEPING as readonly string[]).includes(c)).map(([c, t]) => `${quoteName(c)} ${SQL_TYPE[engine][t]}`);
  return `CREATE TABLE IF NOT EXISTS ${quoteName(table)} (${[...bookkeeping, ...user].join(", ")})`;
}

/** The tsd_id index of a table; its name kept within PostgreSQL's 63 characters, unlike any table's. */
export function indexSql(table: string): string {
  let name = `${table}_tsd_id_idx`;
  if (name.length > 63) name = `${table.slice(0, 43)}_${new Bun.CryptoHasher("md5").update(table).digest("hex").slice(0, 8)}_tsd_id_idx`;
  return `CREATE INDEX IF NOT EXISTS ${quoteName(name)} ON ${quoteName(table)} (tsd_id)`;
}

export function addColumnSql(engine: Engine, table: string, column: string, type: ColumnType): string {
  return `ALTER TABLE ${quoteName(table)} ADD COLUMN ${quoteName(column)} ${SQL_TYPE[engine][type]}`;
}

/** The columns of an existing table (undefined when there is no such table). */
export async function readColumns(db: Database, table: string): Promise<Result<Map<string, ColumnType> | undefined>> {
  const rows =
    db.engine === "sqlite"
      ? await db.query(`SELECT name, type FROM pragma_table_info(?)`, [table])
      : await db.query("SELECT column_name AS name, data_type AS type FROM information_schema.columns WHERE table_schema = 'public' AND table_name = ? ORDER BY ordinal_position", [table]);
  if (!rows.ok) return rows;
  if (rows.value.length === 0) return ok(undefined);
  return ok(new Map(rows.value.map((r) => [String(r.name), typeFromSql(String(r.type))])));
}

/** True when `v` goes into a column of `type` as it is (the common case, checked without allocating). */
export function fitsAsIs(type: ColumnType, v: unknown): boolean {
  switch (typeof v) {
    case "number":
      return type === "float" || (type === "int" && Number.isSafeInteger(v));
    case "bigint":
      return type === "int"; // parseRows makes only 64-bit ones
    case "string":
      return type === "text" || (type === "timestamp" && UTC_TEXT.test(v));
    case "boolean":
      return type === "bool";
    default:
      return v === null || v === undefined;
  }
}

const SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** JSON.stringify replacer: a bigint as its own digits (JSON.rawJSON, ES2025) where JSON would refuse it. */
function keepBigints(_key: string, v: unknown): unknown {
  return typeof v === "bigint" ? (JSON as unknown as { rawJSON(text: string): object }).rawJSON(String(v)) : v;
}

/** A value ready for a column of `type`, or an error saying why it does not fit. */
export function valueFor(type: ColumnType, v: unknown, column: string): Result<unknown> {
  if (v === null || v === undefined) return ok(null);
  if (fitsAsIs(type, v)) return ok(v);
  const bad = () => fail<unknown>("bad_value", `column '${column}' is ${type}, the value ${JSON.stringify(v)} does not fit`);
  switch (type) {
    case "int": {
      // bound as bigint when beyond 2^53: both engines take 64-bit integers, every digit kept
      if (typeof v === "boolean") return ok(v ? 1 : 0);
      const big = typeof v === "number" && Number.isInteger(v) ? BigInt(v) : typeof v === "string" && /^\s*-?\d+\s*$/.test(v) ? BigInt(v.trim()) : typeof v === "bigint" ? v : undefined;
      if (big === undefined) return bad();
      if (big < INT64_MIN || big > INT64_MAX) return fail("bad_value", `column '${column}' is int (64 bits), the value ${String(v).trim()} is beyond it`);
      return ok(big >= -SAFE && big <= SAFE ? Number(big) : big);
    }
    case "float":
      if (typeof v === "number") return ok(v);
      if (typeof v === "bigint") {
        // a float keeps 53 bits: an integer it would round is refused rather than changed
        const n = Number(v);
        return BigInt(n) === v ? ok(n) : fail("bad_value", `column '${column}' is float, the value ${v} does not fit without losing digits (a float keeps about 15)`);
      }
      if (typeof v === "string" && v.trim() !== "" && !Number.isNaN(Number(v))) return ok(Number(v));
      return bad();
    case "bool":
      if (typeof v === "boolean") return ok(v);
      if (v === 0 || v === 1) return ok(v === 1);
      if (typeof v === "string" && /^(true|false)$/i.test(v.trim())) return ok(v.trim().toLowerCase() === "true");
      return bad();
    case "timestamp": {
      // ISO text keeps its fraction to the digit; other forms go through a Date
      const iso = typeof v === "string" ? utcText(v) : undefined;
      if (iso) return ok(iso);
      const t = timeOf(v);
      return t ? ok(dateText(t)) : bad();
    }
    case "text":
      return ok(typeof v === "object" ? JSON.stringify(v, keepBigints) : String(v));
  }
}
