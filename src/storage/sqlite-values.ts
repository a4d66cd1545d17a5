/**
 * @module storage/sqlite-values
 * What SQLite answers, as a query's reply shows it: a column's kind from its declared type,
 * values as plain data (integers beyond 2^53 as their digits, blobs as hex), and the rows of
 * a statement a page at a time. Shared by
 * the in-process reads (storage/sqlite) and the query workers (storage/query-worker).
 */
import type { Statement } from "bun:sqlite";
import { type Column, PAGE_BYTES, type ValueKind, rowBytes } from "./database.ts";
import { movedBytes } from "../util/garbage.ts";

/** The kind of a column from its declared type (`null` for an expression). */
export function kindOf(declared: string | null): ValueKind {
  if (declared === null) return "unknown";
  if (/time/i.test(declared)) return "timestamp";
  if (/^date$/i.test(declared)) return "date";
  if (/int|real|floa|doub|num|dec/i.test(declared)) return "number";
  return "text";
}

/** A statement's columns with their kinds. */
export function columnsOf(stmt: Statement): Column[] {
  const types = stmt.declaredTypes;
  return stmt.columnNames.map((name, i) => ({ name, kind: kindOf(types[i] ?? null) }));
}

/** A value read with safe integers, as plain data. */
export function plainValue(v: unknown): unknown {
  if (typeof v === "bigint") return Number.isSafeInteger(Number(v)) ? Number(v) : String(v);
  if (v instanceof Uint8Array) return Buffer.from(v).toString("hex");
  return v;
}

/** A SQLite statement's rows as value arrays, one at a time (a repeated column name: read all at once, as iterate() keys rows by name). */
export function rowsOf(stmt: Statement): Iterator<unknown[]> {
  const names = stmt.columnNames;
  if (new Set(names).size !== names.length) return (stmt.values() as unknown[][])[Symbol.iterator]();
  const objects = stmt.iterate() as IterableIterator<Record<string, unknown>>;
  return (function* () {
    for (const r of objects) yield names.map((n) => r[n]);
  })();
}

/** The next page of `rows`: about PAGE_BYTES of values, and whether they were the last. */
export function nextPage(rows: Iterator<unknown[]>): { rows: unknown[][]; done: boolean } {
  const page: unknown[][] = [];
  let bytes = 0;
  while (bytes < PAGE_BYTES) {
    const r = rows.next();
    if (r.done) {
      movedBytes(bytes);
      return { rows: page, done: true };
    }
    const row = r.value.map(plainValue);
    bytes += rowBytes(row);
    page.push(row);
  }
  movedBytes(bytes);
  return { rows: page, done: false };
}
