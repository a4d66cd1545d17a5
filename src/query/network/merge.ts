/**
 * @module query/network/merge
 * The union of the operators' replies, queried as one table: rows go, as they arrive, into
 * a SQLite database made for this query alone (columns without declared types, so an int on
 * one operator and a float on another both keep their values), and the plan's local query
 * runs over a view named like the queried table. The database lives in memory until the
 * rows pass SPILL_BYTES, then in a file of the node's tmp_dir removed when the query ends,
 * so a 2,000,000-row answer does not sit in the node's memory. Each row keeps which reply
 * it came from, so a reply that failed part-way can be taken out again.
 */
import { Database, type Statement } from "bun:sqlite";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { rowBytes } from "../../storage/database.ts";
import { nextPage, rowsOf } from "../../storage/sqlite-values.ts";
import { movedBytes } from "../../util/garbage.ts";
import { type Result, errorText, fail, ok } from "../../util/result.ts";
import { HELD_BYTES, type RowPages } from "../reply.ts";
import { quoteIdent } from "./sql-text.ts";

/** Merged rows past this many bytes move from memory to a file. */
const SPILL_BYTES = 8 * 1024 * 1024;
/** The table the rows are kept in; the view named like the queried table shows them without their source. */
const ROWS = "__anylog_rows";
const SOURCE = "__anylog_source";

/** What the local query answered. */
export interface Merged {
  columns: string[];
  rows: unknown[][];
  /** The rows after `rows`, when there are too many to hold (`answer` with stream). */
  more?: RowPages;
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

let spilled = 0;

/** The rows of one network query, from every operator, and the local query over them. */
export class MergeTable {
  private db = new Database(":memory:");
  private readonly columns: string[] = [];
  private readonly inserts = new Map<string, Statement>();
  private bytes = 0;
  private file?: string;
  private closed = false;

  /**
   * `table`: the name the local query reads; `columns` come first, then any other a reply
   * has; a large merge spills to `spillDir`. `floats`: columns the table declares floating
   * point, kept REAL (JSON carries a float 3.0 as 3, which would merge as an integer and
   * divide as one).
   */
  constructor(
    private readonly table: string,
    columns: string[],
    private readonly spillDir: string,
    private readonly floats: string[] = [],
  ) {
    this.db.run(`CREATE TABLE ${quoteIdent(ROWS)} (${quoteIdent(SOURCE)})`);
    this.addColumns(columns);
  }

  private addColumns(names: string[]): void {
    for (const name of names) {
      if (this.columns.includes(name) || name === SOURCE) continue;
      this.db.run(`ALTER TABLE ${quoteIdent(ROWS)} ADD COLUMN ${quoteIdent(name)}${this.floats.includes(name) ? " REAL" : ""}`);
      this.columns.push(name);
    }
  }

  /** Adds a page of rows (values in the order of `columns`) from reply number `source`. */
  add(source: number, columns: string[], rows: unknown[][]): Result<void> {
    if (rows.length === 0) return ok(undefined);
    try {
      this.addColumns(columns);
      const key = columns.join("\u0000");
      let insert = this.inserts.get(key);
      if (!insert) {
        insert = this.db.prepare(`INSERT INTO ${quoteIdent(ROWS)} (${[SOURCE, ...columns].map(quoteIdent).join(", ")}) VALUES (${["?", ...columns.map(() => "?")].join(", ")})`);
        this.inserts.set(key, insert);
      }
      const stmt = insert;
      let bytes = 0;
      this.db.transaction(() => {
        for (const r of rows) {
          stmt.run(source, ...columns.map((_, i) => bindable(r[i])));
          bytes += rowBytes(r);
        }
      })();
      this.bytes += bytes;
      movedBytes(bytes);
      if (this.bytes > SPILL_BYTES && !this.file) this.spill();
      return ok(undefined);
    } catch (e) {
      return fail("internal", `merging the operators' replies failed: ${errorText(e)}`);
    }
  }

  /** Adds rows sent as objects (a reply held whole, as `format = json:list` makes it). */
  addObjects(source: number, rows: Array<Record<string, unknown>>): Result<void> {
    const names: string[] = [];
    const seen = new Set<string>();
    for (const r of rows) for (const k of Object.keys(r)) if (!seen.has(k)) seen.add(k), names.push(k);
    return this.add(source, names, rows.map((r) => names.map((n) => r[n])));
  }

  /** Takes out the rows reply `source` sent (it failed part-way). */
  drop(source: number): void {
    this.db.run(`DELETE FROM ${quoteIdent(ROWS)} WHERE ${quoteIdent(SOURCE)} = ?`, [source]);
  }

  /** Moves the rows to a file: a copy of the database as it is, opened in its place. */
  private spill(): void {
    mkdirSync(this.spillDir, { recursive: true });
    const file = join(this.spillDir, `merge-${process.pid}-${++spilled}.db`);
    writeFileSync(file, this.db.serialize());
    this.db.close();
    this.inserts.clear();
    this.file = file;
    this.db = new Database(file);
    // a scratch file: a crash loses nothing that matters
    this.db.exec("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF");
  }

  /**
   * Runs `localSql` over the rows. With `stream`, an answer past HELD_BYTES comes with `more`
   * pages and the table stays open until they are read (or `return()`ed); otherwise it is
   * held whole and the table closed.
   */
  answer(localSql: string, stream: boolean): Result<Merged> {
    const shown = this.columns.length > 0 ? this.columns : ["__none"];
    if (this.columns.length === 0) this.addColumns(shown);
    const create = `CREATE TABLE ${quoteIdent(this.table)} (${shown.map(quoteIdent).join(", ")})`;
    let handedOver = false;
    try {
      this.db.run(`CREATE TEMP VIEW ${quoteIdent(this.table)} AS SELECT ${shown.map(quoteIdent).join(", ")} FROM main.${quoteIdent(ROWS)}`);
      const stmt = this.db.prepare(localSql);
      const columns = stmt.columnNames;
      const rows = rowsOf(stmt);
      const held: unknown[][] = [];
      let bytes = 0;
      for (;;) {
        const page = nextPage(rows);
        for (const r of page.rows) {
          held.push(r);
          bytes += rowBytes(r);
        }
        if (page.done) {
          stmt.finalize();
          return ok({ columns, rows: held, create });
        }
        if (stream && bytes > HELD_BYTES) {
          handedOver = true;
          return ok({ columns, rows: held, create, more: this.rest(stmt, rows) });
        }
      }
    } catch (e) {
      return fail("bad_value", `merging the operators' replies failed: ${errorText(e)}`);
    } finally {
      if (!handedOver) this.close();
    }
  }

  private async *rest(stmt: Statement, rows: Iterator<unknown[]>): RowPages {
    try {
      for (;;) {
        const page = nextPage(rows);
        yield ok(page.rows);
        if (page.done) return;
      }
    } catch (e) {
      yield fail("internal", `reading the merged rows failed: ${errorText(e)}`);
    } finally {
      stmt.finalize();
      this.close();
    }
  }

  /** Ends the merge: the database closed, its file (if it spilled) removed. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.inserts.clear();
    this.db.close();
    if (this.file) rmSync(this.file, { force: true });
  }
}
