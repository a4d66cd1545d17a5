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

export function parseDataFileName(fileName: string): Result<DataFileName> {
  const m = /^(.*)\.json(\.gz)?$/i.exec(fileName);
  if (!m) return fail("bad_value", `'${fileName}' is not a data file: names end in .json (or .json.gz)`);
  const parts = m[1]!.split(".");
  const [dbms, table, source = "", hash = "", instructions = ""] = parts;
  if (parts.length < 2 || !dbms || !table) {
    return fail("bad_value", `'${fileName}' does not follow the naming convention <dbms>.<table>[.<source>.<hash>.<instructions>].json`);
  }
  if (!NAME.test(dbms)) return fail("bad_value", `'${fileName}': '${dbms}' is not a database name (letters, digits, _)`);
  if (!NAME.test(table)) return fail("bad_value", `'${fileName}': '${table}' is not a table name (letters, digits, _)`);
  return ok({ dbms: dbms.toLowerCase(), table: table.toLowerCase(), source, hash, instructions, compressed: m[2] !== undefined });
}

/** A conventional name for data that arrived by REST. */
export function dataFileName(dbms: string, table: string, source: string, hash: string): string {
  return `${dbms}.${table}.${source}.${hash}.json`;
}
