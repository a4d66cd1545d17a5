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

/** A database or table name of data (letters, digits and _, not a digit first), in lower case. */
export function dataName(kind: "database" | "table", name: string): Result<string> {
  if (!NAME.test(name)) return fail("bad_value", `'${name}' is not a ${kind} name (letters, digits and _, not a digit first)`);
  if (name.length > LONGEST[kind]) return fail("bad_value", `'${name}' is not a ${kind} name: at most ${LONGEST[kind]} characters`);
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
