/**
 * @module ingest/rows
 * Data text to rows: a JSON object, a JSON array of objects, or one JSON object per line.
 * Keys become column names (lower case; characters other than letters, digits and _ become _).
 */
import { type Result, fail, ok } from "../util/result.ts";

export type DataRow = Record<string, unknown>;

/** Column names already worked out: data repeats the same few keys on every row. */
const names = new Map<string, string>();

/** The longest name PostgreSQL keeps (it cuts longer ones, so a longer key would never match its column). */
export const MAX_NAME = 63;

export function columnName(key: string): string {
  let c = names.get(key);
  if (c === undefined) {
    c = key.trim().toLowerCase().replace(/[^a-z0-9_]/g, "_");
    if (!/^[a-z_]/.test(c)) c = `_${c}`;
    c = c.slice(0, MAX_NAME);
    if (names.size < 10_000) names.set(key, c);
  }
  return c;
}

/** A parsed value as a row, or why it is not one (`where` names it in the message). */
function normalize(value: unknown, where: () => string): Result<DataRow> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return fail("bad_value", `${where()} is not a JSON object`);
  const object = value as Record<string, unknown>;
  // data usually comes with column names already: then the parsed object is the row
  let n = 0;
  let clean = true;
  for (const k in object) {
    n++;
    if (columnName(k) !== k) clean = false;
  }
  if (n === 0) return fail("bad_value", `${where()} has no values`);
  if (clean) return ok(object);
  const row: DataRow = {};
  for (const k in object) row[columnName(k)] = object[k];
  return ok(row);
}

/** The parsed values as rows (the list itself, its objects renamed where needed). */
function rowsOf(list: unknown[], what: string): Result<DataRow[]> {
  for (let i = 0; i < list.length; i++) {
    const r = normalize(list[i], () => `${what} ${i + 1}`);
    if (!r.ok) return r;
    list[i] = r.value;
  }
  return ok(list as DataRow[]);
}

/** JSON.parse, with the error message as a value. */
function parseJson(text: string): Result<unknown> {
  try {
    return ok(JSON.parse(text));
  } catch (e) {
    return fail("bad_value", e instanceof Error ? e.message : String(e));
  }
}

/** Parses data text; the error names the line (or element) at fault. */
export function parseRows(text: string): Result<DataRow[]> {
  const trimmed = text.trim();
  if (trimmed === "") return fail("bad_value", "no data: the body is empty");
  if (trimmed.startsWith("[")) {
    const list = parseJson(trimmed);
    if (!list.ok) return fail("bad_value", `not a JSON array: ${list.error.message}`);
    if (!Array.isArray(list.value)) return fail("bad_value", "not a JSON array");
    if (list.value.length === 0) return fail("bad_value", "no data: the array is empty");
    return rowsOf(list.value, "element");
  }
  // One JSON object per line, the usual form: parsed as one array when there are no blank
  // lines and every line is good (much faster than a parse per line). Else one object
  // (perhaps over many lines), else line by line to name the line at fault.
  const multiline = trimmed.includes("\n");
  if (multiline && !/\n\s*\n/.test(trimmed)) {
    const list = parseJson(`[${trimmed.replaceAll("\n", ",")}]`);
    const rows = list.ok && Array.isArray(list.value) ? rowsOf(list.value, "line") : undefined;
    if (rows?.ok) return rows;
  }
  const whole = parseJson(trimmed);
  if (whole.ok) {
    const r = normalize(whole.value, () => "the body");
    return r.ok ? ok([r.value]) : r;
  }
  if (!multiline) return fail("bad_value", `line 1 is not JSON: ${whole.error.message}`);
  const rows: DataRow[] = [];
  for (const [i, line] of trimmed.split(/\r?\n/).entries()) {
    if (line.trim() === "") continue;
    const parsed = parseJson(line);
    if (!parsed.ok) return fail("bad_value", `line ${i + 1} is not JSON: ${parsed.error.message}`);
    const r = normalize(parsed.value, () => `line ${i + 1}`);
    if (!r.ok) return r;
    rows.push(r.value);
  }
  return ok(rows);
}
