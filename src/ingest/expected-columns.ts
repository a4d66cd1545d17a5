/**
 * @module ingest/expected-columns
 * The columns a table will have once the rows acknowledged for it are stored: its columns
 * in the database, plus the types that rows still waiting in a buffer give new keys. A
 * unit acknowledged before it is stored (through the journal) is checked here first, so a
 * value that contradicts its column is refused with 400 at once, as when the rows are
 * written, instead of being acknowledged and then failing in the buffer.
 */
import type { Database } from "../storage/database.ts";
import { type Result, fail, ok } from "../util/result.ts";
import { isTransient } from "./ingest.ts";
import { BOOKKEEPING, type ColumnType, fitsAsIs, inferColumns, readColumns, valueFor } from "./columns.ts";
import type { DataRow } from "./rows.ts";

export class ExpectedColumns {
  private readonly tables = new Map<string, Map<string, ColumnType>>();

  /**
   * Checks rows against the table's expected columns and, when they fit, adds the types
   * their new keys give. The error names the row and the column, as the table writer's does.
   */
  async admit(db: Database, table: string, rows: DataRow[], declared?: Map<string, ColumnType>): Promise<Result<void>> {
    const key = `${db.name}.${table}`;
    let columns = this.tables.get(key);
    if (!columns) {
      const read = await readColumns(db, table);
      // the database is away: the unit is taken unchecked (the journal's purpose); a value its
      // column refuses goes to the error directory when the rows are written
      if (!read.ok) return isTransient(read.error) ? ok(undefined) : read;
      columns = read.value ?? new Map();
      this.tables.set(key, columns);
    }
    let fresh = false;
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i]!;
      for (const k in row) {
        const type = columns.get(k);
        if (type === undefined) {
          fresh = true;
          continue;
        }
        const v = row[k];
        if (fitsAsIs(type, v)) continue;
        const fit = valueFor(type, v, k);
        if (!fit.ok) return fail("bad_value", `row ${i + 1}: ${fit.error.message}`);
      }
    }
    if (fresh) {
      for (const [c, t] of declared ?? inferColumns(rows)) {
        if (!columns.has(c) && !(BOOKKEEPING as readonly string[]).includes(c)) columns.set(c, t);
      }
    }
    return ok(undefined);
  }

  /** Forgets a table's columns: read again from the database next time (its buffer is empty, or a write failed). */
  forget(dbms: string, table: string): void {
    this.tables.delete(`${dbms}.${table}`);
  }
}
