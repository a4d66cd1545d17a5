/**
 * @module query/rows-count
 * `get rows count`: how many rows the tables of this node's connected databases hold, per
 * physical table by default (a partitioned table shows each `par_<table>_<start>`) or summed per
 * table with `group = table`. It counts this node only; a count over the network is a
 * `select count(*)` query.
 */
import type { Node } from "../node/node.ts";
import { type Database, quoteName } from "../storage/database.ts";
import { type Result, fail, ok } from "../util/result.ts";

export interface TableCount {
  dbms: string;
  table: string;
  rows: number;
}

export type Grouping = "partition" | "table";

/** The table a physical table belongs to: `par_<table>_<start>` belongs to `<table>`. */
export const logicalTable = (physical: string): string => /^par_(.+)_\d+$/.exec(physical)?.[1] ?? physical;


/** Tables that hold rows (not views: a partitioned table's view would count its rows twice). */
async function baseTables(db: Database): Promise<Result<string[]>> {
  if (db.engine === "sqlite") return db.tables(); // sqlite_master tables, views excluded
  const r = await db.query("SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name");
  return r.ok ? ok(r.value.map((row) => String(row.name))) : r;
}

export async function rowsCount(node: Node, where: { dbms?: string; table?: string; group?: string }): Promise<Result<TableCount[]>> {
  const group = (where.group ?? "partition").toLowerCase();
  if (group !== "partition" && group !== "table") return fail("bad_option", `group '${where.group}' is not partition or table`);
  let dbs = node.databases.list();
  if (where.dbms !== undefined) {
    const db = node.databases.require(where.dbms);
    if (!db.ok) return db;
    dbs = [db.value];
  }
  const wanted = where.table?.toLowerCase();
  const counts: TableCount[] = [];
  for (const db of dbs) {
    const tables = await baseTables(db);
    if (!tables.ok) return tables;
    const byTable = new Map<string, number>();
    for (const physical of tables.value) {
      const logical = logicalTable(physical);
      if (wanted !== undefined && logical.toLowerCase() !== wanted) continue;
      const r = await db.query(`SELECT count(*) AS n FROM ${quoteName(physical)}`);
      if (!r.ok) return r;
      const n = Number(r.value[0]?.n ?? 0);
      const key = group === "table" ? logical : physical;
      byTable.set(key, (byTable.get(key) ?? 0) + n);
    }
    if (wanted !== undefined && where.dbms !== undefined && byTable.size === 0) {
      return fail("not_found", `table '${where.table}' is not in dbms '${db.name}'`);
    }
    for (const [table, rows] of byTable) counts.push({ dbms: db.name, table, rows });
  }
  return ok(counts);
}
