/**
 * @module ingest/rows
 * Data text to rows: a JSON object, a JSON array of objects, or one JSON object per line.
 * Keys become column names (lower case; characters other than letters, digits and _ become _).
 */
import { type Result, fail, ok } from "../util/result.ts";

export type DataRow = Record<string, unknown>;

/** Column names already worked out: data repeats the same few keys on every row. */
const names = new Map<string, string>();

export function columnName(key: string): string {
  let c = names.get(key);
  if (c === undefined) {
    c = key.trim().toLowerCase().replace(/[^a-z0-9_]/g, "_");
    if (!/^[a-z_]/.test(c)) c = `_${c}`;
    if (names.size < 10_000) names.set(key, c);
  }
  return c;
}

function normalize(value: unknown, where: string): Result<DataRow> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return fail("bad_value", `${where} is not a JSON object`);
  const row: DataRow = {};
  let n = 0;
  for (const k in value) {
    row[columnName(k)] = (value as Record<string, unknown>)[k];
    n++;
  }
  if (n === 0) return fail("bad_value", `${where} has no values`);
  return ok(row);
}

/** Parses data text; the error names the line (or element) at fault. */
export function parseRows(text: string): Result<DataRow[]> {
  const trimmed = text.trim();
  if (trimmed === "") return fail("bad_value", "no data: the body is empty");
  let whole: unknown;
  let wholeError: string | undefined;
  try {
    whole = JSON.parse(trimmed);
  } catch (e) {
    wholeError = e instanceof Error ? e.message : String(e);
  }
  if (trimmed.startsWith("[") && wholeError) return fail("bad_value", `not a JSON array: ${wholeError}`);
  if (!wholeError) {
    const list = Array.isArray(whole) ? whole : [whole];
    const rows: DataRow[] = [];
    for (const [i, v] of list.entries()) {
      const r = normalize(v, Array.isArray(whole) ? `element ${i + 1}` : "the body");
      if (!r.ok) return r;
      rows.push(r.value);
    }
    if (rows.length === 0) return fail("bad_value", "no data: the array is empty");
    return ok(rows);
  }
  // not one JSON value: one JSON object per line. Parsed as one array when every line is
  // good (much faster than a parse per line); line by line to name the line at fault.
  const asArray = `[${trimmed.split(/\r?\n/).filter((l) => l.trim() !== "").join(",")}]`;
  try {
    const list = JSON.parse(asArray) as unknown[];
    const rows: DataRow[] = [];
    for (const [i, v] of list.entries()) {
      const r = normalize(v, `line ${i + 1}`);
      if (!r.ok) return r;
      rows.push(r.value);
    }
    return ok(rows);
  } catch {
    // a bad line: find it below
  }
  const rows: DataRow[] = [];
  const lines = trimmed.split(/\r?\n/);
  for (const [i, line] of lines.entries()) {
    if (line.trim() === "") continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch (e) {
      return fail("bad_value", `line ${i + 1} is not JSON: ${e instanceof Error ? e.message : String(e)}`);
    }
    const r = normalize(parsed, `line ${i + 1}`);
    if (!r.ok) return r;
    rows.push(r.value);
  }
  return ok(rows);
}
