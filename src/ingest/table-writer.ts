/**
 * @module ingest/table-writer
 * Writing rows into a user table inside the caller's transaction: the table (or its time
 * partition) is created from the data's types when allowed, new keys become new columns,
 * every value is checked against its column, and rows go in as multi-row INSERTs. Column
 * names come from rows.ts (`columnName`); integers beyond 2^53 arrive as bigint and are bound
 * as such (64-bit on both engines). A partition view is written only through its rule.
 */
import { type Database, quoteName } from "../storage/database.ts";
import { type Result, fail, ok } from "../util/result.ts";
import { TextCache } from "../util/text-cache.ts";
import { BOOKKEEPING, type ColumnType, addColumnSql, createTableSql, fitsAsIs, indexSql, inferColumns, readColumns, timeOf, valueFor } from "./columns.ts";
import { type PartitionRule, listPartitions, partitionName, rebuildView } from "./partitions.ts";
import type { DataRow } from "./rows.ts";

export interface WriteOptions {
  createTable: boolean;
  partition?: PartitionRule;
  /** The column types of the whole unit, when `rows` is one chunk of it (a spooled body): new columns are made by them. */
  types?: Map<string, ColumnType>;
  /**
   * Rows of several units written in one transaction: a small unit's rows are checked here
   * and inserted together by `shared.send()` before the commit (a batch of 15,000 one-row
   * units is a few INSERTs).
   */
  shared?: SharedInserts;
}

export interface WriteReport {
  rows: number;
  /** CREATE statement of a table made for this data (for its `table` policy). */
  created?: string;
}

/**
 * Columns of tables as last committed, per database connection, so a busy table is not
 * looked up for every batch. `forgetColumns` drops a database's entries after a failed
 * transaction (its DDL was rolled back).
 */
const columnCache = new WeakMap<object, Map<string, Map<string, ColumnType>>>();

export function forgetColumns(db: Database): void {
  columnCache.delete(db.cacheKey);
}

async function columnsOf(db: Database, table: string): Promise<Result<Map<string, ColumnType> | undefined>> {
  const cached = columnCache.get(db.cacheKey)?.get(table);
  if (cached) return ok(new Map(cached));
  const r = await readColumns(db, table);
  if (r.ok && r.value) {
    let byTable = columnCache.get(db.cacheKey);
    if (!byTable) columnCache.set(db.cacheKey, (byTable = new Map()));
    byTable.set(table, new Map(r.value));
  }
  return r;
}

/** Most bound parameters in one INSERT (below SQLite's and PostgreSQL's limits). */
const MAX_PARAMS = 30_000;
/**
 * A unit of at most this many rows joins the shared INSERTs of its batch (one-row PUTs and
 * messages: a few statements for thousands of units); a bigger one fills INSERTs of its own,
 * which bind its file id and insert time once (1,000-row PUTs 4 at a time into SQLite went
 * from 0.74 to 0.52 of the bare loop when they were shared too).
 */
const SHARED_ROWS = 16;
/** Rows per INSERT statement on SQLite (measured best for bun:sqlite: 250 beat 100 and 1,000). */
const ROWS_PER_INSERT = 250;

/** Inserts `rows` into `table` of `db` (already inside a transaction), each tagged with `tsdId`. */
export async function writeRows(db: Database, table: string, rows: DataRow[], tsdId: number, options: WriteOptions): Promise<Result<WriteReport>> {
  const groups = new Map<string, DataRow[]>();
  /** The insert time of these rows (their insert_timestamp, and their partition when partitioned by it). */
  const insertedAt = new Date();
  const rule = options.partition;
  let partitioned = false;
  if (rule) {
    // a table that existed before the partition rule stays a plain table
    const plain = await readColumns(db, table);
    if (!plain.ok) return plain;
    partitioned = plain.value === undefined || (await isPartitionView(db, table));
  }
  if (partitioned && rule) {
    for (const [i, row] of rows.entries()) {
      // partitioned by insert_timestamp (the seeds' and the appliance's default): by the time of this insert
      const t = rule.column === "insert_timestamp" ? insertedAt : timeOf(row[rule.column]);
      if (!t) return fail("bad_value", `row ${i + 1}: the partition column '${rule.column}' is missing or not a time`);
      const name = partitionName(table, rule, t);
      const g = groups.get(name);
      if (g) g.push(row);
      else groups.set(name, [row]);
    }
  } else {
    // a partition view without its rule (not set again after a restart): rows must not go
    // into the view (PostgreSQL would put them into its one partition, whatever their time)
    if (!rule && !columnCache.get(db.cacheKey)?.has(table) && (await isPartitionView(db, table))) {
      return fail("bad_value", `table '${table}' is the view over its time partitions (par_${table}_<start>), and this node has no partition rule for it: run 'partition <dbms> ${table} using <column> by <interval>' first`);
    }
    groups.set(table, rows);
  }

  let inferredCache: Map<string, ColumnType> | undefined;
  const inferred = () => (inferredCache ??= options.types ?? inferColumns(rows));
  let created: string | undefined;
  let viewStale = false;
  for (const [physical, groupRows] of groups) {
    const existing = await columnsOf(db, physical);
    if (!existing.ok) return existing;
    let columns = existing.value;
    if (!columns) {
      if (!options.createTable) return fail("not_found", `table '${table}' does not exist and the operator does not create tables (create_table = false)`);
      // a new partition takes the columns of the table's other partitions, plus the new data's
      const shape = partitioned ? await logicalColumns(db, table) : ok(new Map<string, ColumnType>());
      if (!shape.ok) return shape;
      const all = new Map([...shape.value, ...[...inferred()].filter(([c]) => !shape.value.has(c))]);
      const sql = createTableSql(db.engine, physical, all);
      for (const s of [sql, indexSql(physical)]) {
        const r = await db.exec(s);
        if (!r.ok) return r;
      }
      created ??= createTableSql(db.engine, table, all);
      columns = new Map([...all, ["row_id", "int"], ["insert_timestamp", "timestamp"], ["tsd_name", "text"], ["tsd_id", "int"]]);
      viewStale ||= partitioned;
    }
    const keys = keysOf(groupRows);
    const added = await addMissingColumns(db, partitioned ? table : physical, columns, keys, inferred, options.createTable, partitioned);
    if (!added.ok) return added;
    viewStale ||= added.value && partitioned;
    const inserted = await insertGroup(db, physical, columns, keys, groupRows, tsdId, insertedAt, options.shared);
    if (!inserted.ok) return inserted;
  }
  if (viewStale) {
    const v = await rebuildView(db, table);
    if (!v.ok) return v;
  }
  return ok({ rows: rows.length, created });
}

async function isPartitionView(db: Database, table: string): Promise<boolean> {
  const parts = await listPartitions(db, table);
  return parts.ok && parts.value.length > 0;
}

/** The columns shared by a partitioned table (those of its newest partition). */
async function logicalColumns(db: Database, table: string): Promise<Result<Map<string, ColumnType>>> {
  const parts = await listPartitions(db, table);
  if (!parts.ok) return parts;
  const newest = parts.value[parts.value.length - 1];
  if (!newest) return ok(new Map());
  const cols = await readColumns(db, newest);
  return cols.ok ? ok(cols.value ?? new Map()) : cols;
}

/** The keys of the rows, in order of first appearance. */
function keysOf(rows: DataRow[]): string[] {
  const seen = new Set<string>();
  for (const r of rows) for (const k in r) seen.add(k);
  return [...seen];
}

/** Adds columns for new keys (to every partition of a partitioned table); true when any was added. */
async function addMissingColumns(
  db: Database,
  table: string,
  columns: Map<string, ColumnType>,
  keys: string[],
  inferred: () => Map<string, ColumnType>,
  allowed: boolean,
  partitioned: boolean,
): Promise<Result<boolean>> {
  // types are inferred only when some key is new
  if (keys.every((k) => columns.has(k))) return ok(false);
  const missing = [...inferred()].filter(([c]) => !columns.has(c));
  if (missing.length === 0) return ok(false);
  if (!allowed) return fail("bad_value", `table '${table}' has no column '${missing[0]![0]}' (create_table = false)`);
  const targets = partitioned ? await listPartitions(db, table) : ok([table]);
  if (!targets.ok) return targets;
  for (const [c, t] of missing) {
    for (const target of targets.value) {
      const r = await db.exec(addColumnSql(db.engine, target, c, t));
      if (!r.ok) return r;
    }
    columns.set(c, t);
  }
  return ok(true);
}

async function insertGroup(
  db: Database,
  table: string,
  columns: Map<string, ColumnType>,
  allKeys: string[],
  rows: DataRow[],
  tsdId: number,
  at: Date,
  shared: SharedInserts | undefined,
): Promise<Result<void>> {
  const keys = allKeys.filter((k) => !(BOOKKEEPING as readonly string[]).includes(k));
  const types = keys.map((k) => columns.get(k)!);
  const insertedAt = at.toISOString().replace("T", " ").replace("Z", "");
  if (shared && rows.length <= SHARED_ROWS) {
    const params: unknown[] = [];
    for (let i = 0; i < rows.length; i++) {
      const b = bindRow(params, rows[i]!, i, keys, types);
      if (!b.ok) return b;
      params.push(insertedAt, tsdId);
    }
    shared.add(table, keys, rows.length, params);
    return ok(undefined);
  }
  // one insert time and file id for the batch, bound once as ?1 and ?2 and repeated in
  // every row (cheaper than the column default evaluated per row, or binding them per row);
  // multi-row INSERTs of rowsPerInsert rows (the same statement text, so the engine's
  // statement cache hits), each under the bound-parameter limit
  const chunk = rowsPerInsert(db, keys.length);
  for (let start = 0; start < rows.length; start += chunk) {
    const end = Math.min(rows.length, start + chunk);
    const params: unknown[] = [insertedAt, tsdId];
    for (let i = start; i < end; i++) {
      const b = bindRow(params, rows[i]!, i, keys, types);
      if (!b.ok) return b;
    }
    const r = await db.exec(insertSql(table, keys, end - start), params);
    if (!r.ok) return r;
  }
  return ok(undefined);
}

const BOUND: Result<void> = ok(undefined);

/** Appends the values of `row` (row `i` of its unit) to `params`, each checked against its column. */
function bindRow(params: unknown[], row: DataRow, i: number, keys: string[], types: ColumnType[]): Result<void> {
  for (let c = 0; c < keys.length; c++) {
    const type = types[c]!;
    let v = row[keys[c]!];
    if (!fitsAsIs(type, v)) {
      const fit = valueFor(type, v, keys[c]!);
      if (!fit.ok) return fail("bad_value", `row ${i + 1}: ${fit.error.message}`);
      v = fit.value;
    }
    params.push(v ?? null);
  }
  return BOUND;
}

/** Rows per multi-row INSERT of rows `width` parameters wide: under the bound-parameter limit; on SQLite the measured best, on PostgreSQL the fewest round trips. */
function rowsPerInsert(db: Database, width: number): number {
  const byParams = Math.max(1, Math.floor(MAX_PARAMS / Math.max(1, width)));
  return db.engine === "sqlite" ? Math.min(ROWS_PER_INSERT, byParams) : byParams;
}

/**
 * The rows of several units on their way into one transaction, by table and keys, each row
 * with its own insert time and file id; `send` writes them as multi-row INSERTs.
 */
export class SharedInserts {
  private readonly groups = new Map<string, { table: string; keys: string[]; rows: number; params: unknown[] }>();

  add(table: string, keys: string[], rows: number, params: unknown[]): void {
    const id = `${table}(${keys.join(",")})`;
    const g = this.groups.get(id);
    if (!g) this.groups.set(id, { table, keys, rows, params });
    else {
      for (const v of params) g.params.push(v);
      g.rows += rows;
    }
  }

  async send(db: Database): Promise<Result<void>> {
    for (const { table, keys, rows, params } of this.groups.values()) {
      const width = keys.length + 2;
      const chunk = rowsPerInsert(db, width);
      for (let start = 0; start < rows; start += chunk) {
        const n = Math.min(chunk, rows - start);
        const r = await db.exec(insertSql(table, keys, n, true), params.slice(start * width, (start + n) * width));
        if (!r.ok) return r;
      }
    }
    this.groups.clear();
    return ok(undefined);
  }
}

/** INSERT texts already written (per table, columns and row count): they repeat with every batch. */
const insertTexts = new TextCache(8 * 1024 * 1024);

/**
 * `INSERT INTO table (keys..., bookkeeping) VALUES (?3, ?4, ..., ?1, '0', ?2), ...` for `rows`
 * rows sharing one insert time and file id; with `perRow`, each row binds its own after its values.
 */
function insertSql(table: string, keys: string[], rows: number, perRow = false): string {
  return insertTexts.get(`${table}(${keys.join(",")})${rows}${perRow ? "r" : ""}`, () => {
    const width = perRow ? keys.length + 2 : keys.length;
    const first = perRow ? 1 : 3;
    const values = Array.from({ length: rows }, (_, r) => {
      const at = (c: number) => `?${first + r * width + c}`;
      return `(${[...keys.map((_, c) => at(c)), perRow ? at(keys.length) : "?1", "'0'", perRow ? at(keys.length + 1) : "?2"].join(", ")})`;
    });
    return `INSERT INTO ${quoteName(table)} (${[...keys.map(quoteName), "insert_timestamp", "tsd_name", "tsd_id"].join(", ")}) VALUES ${values.join(", ")}`;
  });
}
