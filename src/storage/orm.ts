/**
 * @module storage/orm
 * Running the fixed tables' statements. Their text is built with drizzle-orm from the one
 * declaration of each table when the code is bundled (storage/fixed-sql.ts, a Bun macro),
 * and runs here through the storage interface (`Database.query/exec`), so one query text
 * per engine, one transaction model, one error model, and no drizzle at run time.
 */
import type { Database, Row } from "./database.ts";
import type { Result } from "../util/result.ts";

/** A parameter of a statement: a value bound per call (by name), or one fixed in the text. */
export type SqlParam = { name: string } | { value: string | number | boolean | null };

/** A statement's text and the layout of its parameters, as storage/fixed-sql.ts built it. */
export interface SqlText {
  sql: string;
  params: SqlParam[];
}

function bind(s: SqlText, values: Record<string, unknown>): unknown[] {
  return s.params.map((p) => ("name" in p ? values[p.name] : p.value));
}

export function runQuery(db: Database, s: SqlText, values: Record<string, unknown> = {}): Promise<Result<Row[]>> {
  return db.query(s.sql, bind(s, values));
}

export function runStatement(db: Database, s: SqlText, values: Record<string, unknown> = {}): Promise<Result<{ changes: number }>> {
  return db.exec(s.sql, bind(s, values));
}
