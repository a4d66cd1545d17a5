/**
 * @module query/network/merge
 * The union of the operators' replies, queried as one table: the rows go into a table of
 * an in-memory SQLite database made for this query alone (columns without declared types,
 * so an int on one operator and a float on another both keep their values), and the
 * plan's local query runs over it.
 */
import { Database } from "bun:sqlite";
import { type Result, errorText, fail, ok } from "../../util/result.ts";
import { quoteIdent } from "./sql-text.ts";

export interface Merged {
  columns: string[];
  rows: unknown[][];
  /** The merged table's CREATE statement (for `query explain`). */
  create: string;
}

/** A value as SQLite takes it: booleans as 1/0, objects as JSON text. */
function bindable(v: unknown): string | number | bigint | null {
  if (v === null || v === undefined) return null;
  if (typeof v === "number" || typeof v === "string" || typeof v === "bigint") return v;
  if (typeof v === "boolean") return v ? 1 : 0;
  return JSON.stringify(v);
}

/**
 * Runs `localSql` over `rows` (objects, one per row) held in a table named `table`. Its
 * columns are `columns` and then every other key the rows have, in order of first sight.
 */
export function mergeRows(table: string, columns: string[], rows: Array<Record<string, unknown>>, localSql: string): Result<Merged> {
  const names = new Set(columns);
  for (const r of rows) for (const k of Object.keys(r)) names.add(k);
  const all = [...names];
  const db = new Database(":memory:");
  try {
    if (all.length === 0) all.push("__none");
    const create = `CREATE TABLE ${quoteIdent(table)} (${all.map(quoteIdent).join(", ")})`;
    db.run(create);
    if (rows.length > 0) {
      const insert = db.prepare(`INSERT INTO ${quoteIdent(table)} (${all.map(quoteIdent).join(", ")}) VALUES (${all.map(() => "?").join(", ")})`);
      db.transaction(() => {
        for (const r of rows) insert.run(...all.map((c) => bindable(r[c])));
      })();
    }
    const q = db.query(localSql);
    const values = q.values() as unknown[][];
    return ok({ columns: q.columnNames, rows: values, create });
  } catch (e) {
    return fail("bad_value", `merging the operators' replies failed: ${errorText(e)}`);
  } finally {
    db.close();
  }
}
