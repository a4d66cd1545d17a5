/**
 * @module storage/orm
 * drizzle-orm query building for the fixed tables. Queries are built with drizzle's
 * connection-less builders and run through the storage interface (`Database.query/exec`),
 * so one query text per engine, one transaction model, one error model.
 */
import { drizzle as pgDrizzle } from "drizzle-orm/postgres-js";
import { drizzle as sqliteDrizzle } from "drizzle-orm/bun-sqlite";
import { fillPlaceholders } from "drizzle-orm";
import type { Database, Engine, Row } from "./database.ts";
import type { Result } from "../util/result.ts";

const sqliteBuilder = sqliteDrizzle.mock();
const pgBuilder = pgDrizzle.mock();

/**
 * The query builder for an engine. The PostgreSQL builder is typed as the SQLite one: for
 * the select / insert / update / delete queries built here both have the same surface, and
 * only `toSQL()` of the result is used.
 */
export function builder(engine: Engine): typeof sqliteBuilder {
  return engine === "sqlite" ? sqliteBuilder : (pgBuilder as unknown as typeof sqliteBuilder);
}

/** A built query: anything with drizzle's `toSQL()`. */
interface Built {
  toSQL(): { sql: string; params: unknown[] };
}

export function runQuery(db: Database, q: Built): Promise<Result<Row[]>> {
  const { sql, params } = q.toSQL();
  return db.query(sql, params);
}

export function runStatement(db: Database, q: Built): Promise<Result<{ changes: number }>> {
  const { sql, params } = q.toSQL();
  return db.exec(sql, params);
}

/**
 * A query built once with drizzle placeholders (`sql.placeholder("name")`), for the hot
 * paths that run the same statement for every unit of data: building it each time cost
 * more than running it. `with(values)` gives a query for runQuery / runStatement.
 */
export function prepare(q: Built): { with(values: Record<string, unknown>): Built } {
  const { sql, params } = q.toSQL();
  return { with: (values) => ({ toSQL: () => ({ sql, params: fillPlaceholders(params, values) }) }) };
}
