/**
 * @module storage/sqlite-values
 * What SQLite answers, as a query's reply shows it: a column's kind from its declared type,
 * and values as plain data (integers beyond 2^53 as their digits, blobs as hex). Shared by
 * the in-process reads (storage/sqlite) and the query workers (storage/query-worker).
 */
import type { ValueKind } from "./database.ts";

/** The kind of a column from its declared type (`null` for an expression). */
export function kindOf(declared: string | null): ValueKind {
  if (declared === null) return "unknown";
  if (/time/i.test(declared)) return "timestamp";
  if (/^date$/i.test(declared)) return "date";
  if (/int|real|floa|doub|num|dec/i.test(declared)) return "number";
  return "text";
}

/** A value read with safe integers, as plain data. */
export function plainValue(v: unknown): unknown {
  if (typeof v === "bigint") return Number.isSafeInteger(Number(v)) ? Number(v) : String(v);
  if (v instanceof Uint8Array) return Buffer.from(v).toString("hex");
  return v;
}
