/**
 * @module storage/orm
 * drizzle-orm query building for the fixed tables. Queries are built with drizzle's
 * connection-less builders and run through the storage interface (`Database.query/exec`),
 * so one query text per engine, one transaction model, one error model.
 */
import { drizzle as pgDrizzle } from "drizzle-orm/postgres-js";
import { drizzle as sqliteDrizzle } from "drizzle-orm/bun-sqlite";
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
