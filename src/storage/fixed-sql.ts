/**
 * @module storage/fixed-sql
 * The statements of the fixed tables, built with drizzle-orm from their one declaration
 * (storage/schema.ts) for both engines. A Bun macro: the modules that need them import it
 * `with { type: "macro" }`, so these functions run when the code is bundled (or, from
 * source, transpiled) and only the SQL texts reach the node; drizzle is never loaded at
 * run time (it cost the default node ~3 MiB of idle RSS and part of its start-up).
 * Values are drizzle placeholders (`p("name")`), bound per call by storage/orm.ts.
 */
import { Param, Placeholder, type SQL, desc, eq, gt, is, sql } from "drizzle-orm";
import { drizzle as pgDrizzle } from "drizzle-orm/postgres-js";
import { PgDialect, bigint as pgBigint, index as pgIndex, pgTable, text as pgText } from "drizzle-orm/pg-core";
import { drizzle as sqliteDrizzle } from "drizzle-orm/bun-sqlite";
import { SQLiteSyncDialect, index as sqliteIndex, integer as sqliteInteger, sqliteTable, text as sqliteText } from "drizzle-orm/sqlite-core";
import type { Engine } from "./database.ts";
import type { SqlText } from "./orm.ts";
import { type ColumnDecl, LEDGER, TSD_INFO, type TableDecl } from "./schema.ts";

/** The drizzle table of a declaration for SQLite (columns built from the declaration). */
export function sqliteTableOf<C extends Record<string, ColumnDecl>>(t: TableDecl<C>) {
  const columns = Object.fromEntries(
    Object.entries(t.columns).map(([name, d]) => {
      let b = d.kind === "int" ? sqliteInteger(name) : sqliteText(name);
      if (d.notNull) b = b.notNull() as typeof b;
      if (d.unique) b = b.unique() as typeof b;
      return [name, b];
    }),
  ) as Record<keyof C & string, ReturnType<typeof sqliteText>>;
  return sqliteTable(t.name, columns, (tbl) => t.indexes.map((i) => sqliteIndex(`${t.name}_${i}_idx`).on(tbl[i])));
}

/** The drizzle table of a declaration for PostgreSQL. */
export function pgTableOf<C extends Record<string, ColumnDecl>>(t: TableDecl<C>) {
  const columns = Object.fromEntries(
    Object.entries(t.columns).map(([name, d]) => {
      let b = d.kind === "int" ? pgBigint(name, { mode: "number" }) : pgText(name);
      if (d.notNull) b = b.notNull() as typeof b;
      if (d.unique) b = b.unique() as typeof b;
      return [name, b];
    }),
  ) as Record<keyof C & string, ReturnType<typeof pgText>>;
  return pgTable(t.name, columns, (tbl) => t.indexes.map((i) => pgIndex(`${t.name}_${i}_idx`).on(tbl[i])));
}

/**
 * One engine's builder and tables. The PostgreSQL ones are typed as the SQLite ones: for the
 * select / insert / update / delete queries built here both have the same surface, and only
 * `toSQL()` of the result is used.
 */
function side(engine: Engine) {
  const sqlite = { qb: sqliteDrizzle.mock(), ledger: sqliteTableOf(LEDGER), tsdInfo: sqliteTableOf(TSD_INFO) };
  if (engine === "sqlite") return sqlite;
  return { qb: pgDrizzle.mock(), ledger: pgTableOf(LEDGER), tsdInfo: pgTableOf(TSD_INFO) } as unknown as typeof sqlite;
}

/** A value as the driver gets it: a plain value, or the text of an error for the build. */
function plain(v: unknown): string | number | boolean | null {
  if (v === null || typeof v === "string" || typeof v === "number" || typeof v === "boolean") return v;
  throw new Error(`storage/fixed-sql: a parameter that is not plain data: ${String(v)}`);
}

/**
 * drizzle's query text and parameters as plain data: a placeholder by name, else its value.
 * A placeholder drizzle would pass through a column's encoder must meet one that changes
 * nothing (the int and text columns declared here), since the value is bound unencoded.
 */
function text(q: { toSQL(): { sql: string; params: unknown[] } }): SqlText {
  const { sql: s, params } = q.toSQL();
  return {
    sql: s,
    params: params.map((v) => {
      if (is(v, Placeholder)) return { name: v.name };
      if (!is(v, Param)) return { value: plain(v) };
      if (!is(v.value, Placeholder)) return { value: plain(v.encoder ? v.encoder.mapToDriverValue(v.value) : v.value) };
      for (const probe of [7, "x"]) {
        if (v.encoder && v.encoder.mapToDriverValue(probe) !== probe) throw new Error(`storage/fixed-sql: placeholder '${v.value.name}' needs its column's encoder`);
      }
      return { name: v.value.name };
    }),
  };
}

const p = (name: string) => sql.placeholder(name);

function ledgerOf(engine: Engine) {
  const { qb, ledger: t } = side(engine);
  return {
    // drizzle does not alias computed fields in its SQL text; name the column so the row has it
    top: text(qb.select({ top: sql<number>`max(${t.seq})`.as("top") }).from(t)),
    find: text(qb.select({ seq: t.seq, status: t.status }).from(t).where(eq(t.policy_id, p("id")))),
    insert: text(
      qb.insert(t).values({
        seq: p("seq"),
        policy_type: p("type"),
        policy_id: p("id"),
        company: p("company"),
        date: p("date"),
        host: p("host"),
        status: "active",
        policy: p("policy"),
      }),
    ),
    reactivate: text(qb.update(t).set({ seq: p("seq"), status: "active", policy: p("policy"), host: p("host") }).where(eq(t.policy_id, p("id")))),
    markDeleted: text(qb.update(t).set({ seq: p("seq"), status: "deleted" }).where(eq(t.policy_id, p("id")))),
    since: text(qb.select({ seq: t.seq, status: t.status, policy: t.policy }).from(t).where(gt(t.seq, p("since"))).orderBy(t.seq)),
    newest: text(qb.select({ seq: t.seq }).from(t).orderBy(desc(t.seq)).limit(1)),
  };
}

/**
 * tsd_info's statements over many units at once: each takes its rows as one JSON array
 * parameter (an array of arrays, read by the engine: SQLite's json_each, PostgreSQL's
 * jsonb_array_elements), so claiming or settling a batch of 15,000 one-row units is a few
 * statements, not 15,000 round trips each.
 */
function tsdInfoOf(engine: Engine) {
  const { qb, tsdInfo: t } = side(engine);
  const pg = engine === "psql";
  const dialect = pg ? new PgDialect() : new SQLiteSyncDialect();
  const raw = (q: SQL) => text({ toSQL: () => dialect.sqlToQuery(q) });
  /** The rows of a JSON array parameter, each element an array, as `e`. */
  const each = (name: string) => (pg ? sql`jsonb_array_elements(CAST(CAST(${p(name)} AS TEXT) AS JSONB)) AS e(x)` : sql`json_each(${p(name)}) AS e`);
  /** Item `i` of the element, as text or as an integer. */
  const str = (i: number) => sql.raw(pg ? `(e.x ->> ${i})` : `(e.value ->> ${i})`);
  const int = (i: number) => sql.raw(pg ? `CAST(e.x ->> ${i} AS BIGINT)` : `(e.value ->> ${i})`);
  const name = (c: { name: string }) => sql.identifier(c.name);
  const time = sql`CAST(${p("time")} AS TEXT)`;
  return {
    top: text(qb.select({ top: sql<number>`max(${t.file_id})`.as("top") }).from(t)),
    /** `hashes`: [[hash], ...] */
    find: text(
      qb
        .select({ file_id: t.file_id, file_hash: t.file_hash, status: t.status, rows: t.rows })
        .from(t)
        .where(sql`${t.file_hash} IN (SELECT ${str(0)} FROM ${each("hashes")})`),
    ),
    /** `claims`: [[file id, dbms, table, source, hash, instructions], ...], all `processing` at `time` */
    insert: raw(
      sql`INSERT INTO ${t} (${sql.join([t.file_id, t.dbms_name, t.table_name, t.source, t.file_hash, t.instructions, t.file_time, t.rows, t.status].map(name), sql`, `)}) SELECT ${int(0)}, ${str(1)}, ${str(2)}, ${str(3)}, ${str(4)}, ${str(5)}, ${time}, 0, 'processing' FROM ${each("claims")}`,
    ),
    /** `stored`: [[file id, rows], ...], stored at `time` */
    stored: raw(sql`UPDATE ${t} SET ${name(t.status)} = 'stored', ${name(t.rows)} = ${int(1)}, ${name(t.file_time)} = ${time} FROM ${each("stored")} WHERE ${t.file_id} = ${int(0)}`),
    /** `ids`: [[file id], ...] */
    forget: raw(sql`DELETE FROM ${t} WHERE ${t.file_id} IN (SELECT ${int(0)} FROM ${each("ids")})`),
  };
}

/** The ledger's statements (metadata/master-ledger.ts), by engine. */
export function ledgerStatements(): Record<Engine, ReturnType<typeof ledgerOf>> {
  return { sqlite: ledgerOf("sqlite"), psql: ledgerOf("psql") };
}

/** tsd_info's statements of claim and settle (ingest/tsd-info.ts), by engine. */
export function tsdInfoStatements(): Record<Engine, ReturnType<typeof tsdInfoOf>> {
  return { sqlite: tsdInfoOf("sqlite"), psql: tsdInfoOf("psql") };
}
