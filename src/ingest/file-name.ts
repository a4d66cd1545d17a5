/**
 * @module ingest/file-name
 * The AnyLog data-file naming convention:
 *   <dbms>.<table>.<source>.<hash>.<instructions>[.<more>...].json[.gz]
 * Only dbms and table are required (`mydb.readings.json` is valid); the rest is kept.
 */
import { type Result, fail, ok } from "../util/result.ts";

export interface DataFileName {
  dbms: string;
  table: string;
  source: string;
  hash: string;
  instructions: string;
  compressed: boolean;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Longest names: PostgreSQL keeps 63 characters of a name, and a table's time partitions
 * are called par_<table>_<YYYYMMDDHH>.
 */
const LONGEST = { database: 63, table: 48 };

/**
 * Why a table name is one the node or an engine uses itself, or undefined: data under such a
 * name would be written over the node's own tables (a `par_<table>_<start>` partition made
 * by hand breaks every later write to <table>), or be refused by the engine.
 */
export function reservedTable(name: string): string | undefined {
  const n = name.toLowerCase();
  const partition = /^par_(.+)_\d+$/.exec(n);
  if (partition) return `it is the name of a time partition of table '${partition[1]}' (par_<table>_<start>), which the node makes itself: send the rows to table '${partition[1]}'`;
  if (n.startsWith("sqlite_")) return "names starting with sqlite_ are SQLite's own";
  if (n.startsWith("pg_")) return "names starting with pg_ are PostgreSQL's own";
  if (n.endsWith("_tsd_id_idx")) return "names ending in _tsd_id_idx are the node's indexes of tables";
  return undefined;
}

/**
 * A database or table name of data (letters, digits and _, not a digit first), in lower case;
 * a table name the node uses itself (`reservedTable`) is refused.
 */
export function dataName(kind: "database" | "table", name: string): Result<string> {
  if (!NAME.test(name)) return fail("bad_value", `'${name}' is not a ${kind} name (letters, digits and _, not a digit first)`);
  if (name.length > LONGEST[kind]) return fail("bad_value", `'${name}' is not a ${kind} name: at most ${LONGEST[kind]} characters`);
  const reserved = kind === "table" ? reservedTable(name) : undefined;
  if (reserved) return fail("bad_value", `'${name}' is not a table name for data: ${reserved}`);
  return ok(name.toLowerCase());
}

export function parseDataFileName(fileName: string): Result<DataFileName> {
  const m = /^(.*)\.json(\.gz)?$/i.exec(fileName);
  if (!m) return fail("bad_value", `'${fileName}' is not a data file: names end in .json (or .json.gz)`);
  const parts = m[1]!.split(".");
  const [dbms, table, source = "", hash = "", instructions = ""] = parts;
  if (parts.length < 2 || !dbms || !table) {
    return fail("bad_value", `'${fileName}' does not follow the naming convention <dbms>.<table>[.<source>.<hash>.<instructions>].json`);
  }
  for (const [kind, name] of [["database", dbms], ["table", table]] as const) {
    const r = dataName(kind, name);
    if (!r.ok) return fail("bad_value", `'${fileName}': ${r.error.message}`);
  }
  return ok({ dbms: dbms.toLowerCase(), table: table.toLowerCase(), source, hash, instructions, compressed: m[2] !== undefined });
}

/** A conventional name for data that arrived by REST. */
export function dataFileName(dbms: string, table: string, source: string, hash: string): string {
  return `${dbms}.${table}.${source}.${hash}.json`;
}
