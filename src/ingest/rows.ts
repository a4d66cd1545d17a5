/**
 * @module ingest/rows
 * Data text to rows: a JSON object, a JSON array of objects, or one JSON object per line.
 * Owns two rules: how a key becomes its column name (`columnName`), and that no value is lost
 * or changed on the way (integers keep every digit up to 64 bits, and a number no column
 * holds, a lone surrogate or two keys naming one column are errors naming the key).
 *
 * Column names (README, "Column names"): the key trimmed, A-Z in lower case, every character
 * that is not a letter, a digit (of any script) or _ becomes _, a leading _ before a first
 * 0-9 and before a name the table uses itself (row_id, insert_timestamp, tsd_name, tsd_id,
 * and PostgreSQL's ctid, xmin, xmax, cmin, cmax, tableoid); a name longer than 63 bytes
 * (UTF-8, PostgreSQL's limit) keeps its first 54 bytes, then _ and 8 hex digits of the MD5 of
 * the whole name. The name depends on the key alone: the same on every PUT, after a restart,
 * on SQLite as on PostgreSQL. Two keys of one row with the same name are a 400 naming both.
 */
import { type Result, fail, ok } from "../util/result.ts";
import { BOOKKEEPING } from "./columns.ts";

export type DataRow = Record<string, unknown>;

/** Column names already worked out: data repeats the same few keys on every row. */
const names = new Map<string, string>();

/** The longest name PostgreSQL keeps, in bytes (it cuts longer ones, so a longer key would never match its column). */
export const MAX_NAME = 63;

/** Names a table uses itself, which a key would clash with: such a key gets a leading _. */
export const RESERVED_COLUMNS: ReadonlySet<string> = new Set([...BOOKKEEPING, "ctid", "xmin", "xmax", "cmin", "cmax", "tableoid"]);

/** Characters a name keeps: letters, digits, marks of any script, and _ (others become _, a lone surrogate too). */
const NOT_NAME = /[^\p{L}\p{N}\p{M}_]/gu;
/** A name that needs no work (the usual key): lower-case ASCII, not a digit first. */
const PLAIN = /^[a-z_][a-z0-9_]*$/;

export function columnName(key: string): string {
  let c = names.get(key);
  if (c === undefined) {
    c = nameOf(key);
    if (names.size < 10_000) names.set(key, c);
  }
  return c;
}

function nameOf(key: string): string {
  let c = key;
  if (!(PLAIN.test(c) && c.length <= MAX_NAME)) {
    c = key.trim().replace(/[A-Z]+/g, (s) => s.toLowerCase()).replace(NOT_NAME, "_");
    const first = c.charCodeAt(0);
    if (c === "" || (first >= 48 && first <= 57)) c = `_${c}`;
  }
  if (RESERVED_COLUMNS.has(c)) c = `_${c}`;
  return Buffer.byteLength(c) > MAX_NAME ? shortened(c) : c;
}

/** A name of more than 63 bytes: its first 54 bytes (whole characters), _ and 8 hex digits of its MD5. */
function shortened(name: string): string {
  let bytes = 0;
  let end = 0;
  for (const ch of name) {
    const cp = ch.codePointAt(0)!;
    const n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    if (bytes + n > MAX_NAME - 9) break;
    bytes += n;
    end += ch.length;
  }
  return `${name.slice(0, end)}_${new Bun.CryptoHasher("md5").update(name).digest("hex").slice(0, 8)}`;
}

/** A key as shown in a message (a key that is not Unicode text in its JSON form). */
const shown = (key: string) => (LONE_SURROGATE.test(key) ? JSON.stringify(key) : `'${key}'`);

/** A lone surrogate: not Unicode text, and no engine stores it (SQLite makes it "", UTF-8 has no form for it). */
const LONE_SURROGATE = /\p{Cs}/u;

/** The largest integer a float holds exactly; a parsed number beyond it may have lost digits. */
const SAFE = Number.MAX_SAFE_INTEGER;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** What the exact parse puts in place of a value no column holds as sent; `source` is its JSON text. */
class Unfit {
  constructor(
    readonly source: string,
    readonly why: string,
    readonly number: boolean,
  ) {}
}

/** JSON.rawJSON (ES2025, in Bun): a number kept as its own text inside JSON text. */
const rawJSON = (JSON as unknown as { rawJSON(text: string): object }).rawJSON;

/** A long source shortened for a message. */
const brief = (source: string) => (source.length > 40 ? `${source.slice(0, 24)}...(${source.length} characters)` : source);

/**
 * The reviver of the exact parse (ES2025 JSON.parse source text access): an integer beyond
 * 2^53 becomes a bigint from its own digits (up to 64 bits), a number nothing holds and a
 * string with a lone surrogate become `Unfit`.
 */
function exactValue(_key: string, value: unknown, context?: { source?: string }): unknown {
  if (typeof value === "number") {
    if (value <= SAFE && value >= -SAFE) return value;
    const source = context?.source;
    if (source === undefined) return new Unfit(String(value), "a number this node cannot read exactly", true);
    if (/^-?\d+$/.test(source)) {
      const big = BigInt(source);
      if (big >= INT64_MIN && big <= INT64_MAX) return big;
      return new Unfit(source, `an integer beyond 64 bits (${INT64_MIN} to ${INT64_MAX}), which no column type holds: send it as text to keep it`, true);
    }
    if (!Number.isFinite(value)) return new Unfit(source, "beyond the largest float (about 1.8e308), which no column type holds: send it as text to keep it", true);
    return value; // a float: its nearest double, as every float is
  }
  if (typeof value === "string" && LONE_SURROGATE.test(value)) {
    return new Unfit(JSON.stringify(value), "text with a lone surrogate (half of a UTF-16 pair), which is not Unicode and which no column stores: send the text as UTF-8, or escape it yourself", false);
  }
  return value;
}

/** The body may hold a string with a lone surrogate: a \uD800-\uDFFF escape makes one (bytes decoded as UTF-8 never do). */
function maySurrogate(text: string): boolean {
  for (let i = text.indexOf("\\u"); i >= 0; i = text.indexOf("\\u", i + 2)) {
    if ((text.charCodeAt(i + 2) | 0x20) !== 0x64) continue; // d or D
    const c = text.charCodeAt(i + 3) | 0x20;
    if (c === 0x38 || c === 0x39 || (c >= 0x61 && c <= 0x66)) return true; // 8, 9, a-f
  }
  return false;
}

/** Whether a nested value holds a number the fast parse may have changed. */
function lossyInside(v: object): boolean {
  const values = Array.isArray(v) ? v : Object.values(v);
  for (const x of values) {
    if (typeof x === "number") {
      if (!(x <= SAFE && x >= -SAFE)) return true;
    } else if (typeof x === "object" && x !== null && lossyInside(x)) return true;
  }
  return false;
}

/**
 * A nested value of the exact parse made storable as JSON text: bigints and numbers nothing
 * holds keep their own digits (JSON.rawJSON); a string with a lone surrogate is returned.
 */
function settleInside(v: Record<string, unknown> | unknown[]): Unfit | undefined {
  const entries: Array<[string | number, unknown]> = Array.isArray(v) ? v.map((x, i) => [i, x]) : Object.entries(v);
  for (const [k, x] of entries) {
    let keep: unknown = x;
    if (typeof x === "bigint") keep = rawJSON(String(x));
    else if (x instanceof Unfit) {
      if (!x.number) return x;
      keep = rawJSON(x.source);
    } else if (typeof x === "object" && x !== null) {
      const bad = settleInside(x as Record<string, unknown>);
      if (bad) return bad;
      continue;
    }
    if (keep !== x) (v as Record<string | number, unknown>)[k] = keep;
  }
  return undefined;
}

/** The fast parse may have changed a number: parse the text again, exactly. */
const AGAIN = Symbol("parse again, exactly");
type Parsed<T> = Result<T> | typeof AGAIN;

/** A parsed value as a row, or why it is not one (`where` names it in the message). */
function normalize(value: unknown, where: () => string, exact: boolean): Parsed<DataRow> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return fail("bad_value", `${where()} is not a JSON object`);
  const object = value as Record<string, unknown>;
  // data usually comes with column names already: then the parsed object is the row
  let n = 0;
  let clean = true;
  for (const k in object) {
    n++;
    if (columnName(k) !== k) clean = false;
    const v = object[k];
    if (typeof v === "number") {
      if (!exact && !(v <= SAFE && v >= -SAFE)) return AGAIN;
    } else if (typeof v === "object" && v !== null) {
      if (!exact) {
        if (lossyInside(v)) return AGAIN;
      } else if (v instanceof Unfit) return fail("bad_value", `${where()}: ${shown(k)} is ${brief(v.source)}, ${v.why}`);
      else {
        const bad = settleInside(v as Record<string, unknown>);
        if (bad) return fail("bad_value", `${where()}: ${shown(k)} holds ${brief(bad.source)}, ${bad.why}`);
      }
    }
  }
  if (n === 0) return fail("bad_value", `${where()} has no values`);
  if (clean) return ok(object);
  const row: DataRow = {};
  for (const k in object) {
    if (LONE_SURROGATE.test(k)) return fail("bad_value", `${where()}: the key ${shown(k)} holds a lone surrogate (half of a UTF-16 pair), which no column name can: send the key as UTF-8 text`);
    const c = columnName(k);
    if (Object.hasOwn(row, c)) {
      const other = Object.keys(object).find((o) => columnName(o) === c)!;
      return fail("bad_value", `${where()}: the keys ${shown(other)} and ${shown(k)} both become column '${c}' (A-Z become a-z, other characters than letters, digits and _ become _): rename one of them`);
    }
    if (c === "__proto__") Object.defineProperty(row, c, { value: object[k], enumerable: true, writable: true, configurable: true });
    else row[c] = object[k];
  }
  return ok(row);
}

/** The parsed values as rows (the list itself, its objects renamed where needed). */
function rowsOf(list: unknown[], what: string, exact: boolean): Parsed<DataRow[]> {
  for (let i = 0; i < list.length; i++) {
    const r = normalize(list[i], () => `${what} ${i + 1}`, exact);
    if (r === AGAIN || !r.ok) return r;
    list[i] = r.value;
  }
  return ok(list as DataRow[]);
}

/** JSON.parse (exactly: with the reviver), with the error message as a value. */
function parseJson(text: string, exact: boolean): Result<unknown> {
  try {
    return ok(exact ? JSON.parse(text, exactValue as (key: string, value: unknown) => unknown) : JSON.parse(text));
  } catch (e) {
    return fail("bad_value", e instanceof Error ? e.message : String(e));
  }
}

/**
 * Parses data text; the error names the line (or element) at fault. The usual body is parsed
 * once; one with a number beyond 2^53 (or a \uD8xx escape) is parsed again with the source
 * text of each number, so integers keep their digits.
 */
export function parseRows(text: string): Result<DataRow[]> {
  const trimmed = text.trim();
  if (trimmed === "") return fail("bad_value", "no data: the body is empty");
  const exact = maySurrogate(trimmed) || !(trimmed as unknown as { isWellFormed(): boolean }).isWellFormed();
  const first = rowsFrom(trimmed, exact);
  if (first !== AGAIN) return first;
  const again = rowsFrom(trimmed, true);
  return again === AGAIN ? fail("internal", "the exact parse asked for itself") : again;
}

function rowsFrom(trimmed: string, exact: boolean): Parsed<DataRow[]> {
  if (trimmed.startsWith("[")) {
    const list = parseJson(trimmed, exact);
    if (!list.ok) return fail("bad_value", `not a JSON array: ${list.error.message}`);
    if (!Array.isArray(list.value)) return fail("bad_value", "not a JSON array");
    if (list.value.length === 0) return fail("bad_value", "no data: the array is empty");
    return rowsOf(list.value, "element", exact);
  }
  // One JSON object per line, the usual form: parsed as one array when there are no blank
  // lines and every line is good (much faster than a parse per line). Else one object
  // (perhaps over many lines), else line by line to name the line at fault.
  const multiline = trimmed.includes("\n");
  if (multiline && !/\n\s*\n/.test(trimmed)) {
    const list = parseJson(`[${trimmed.replaceAll("\n", ",")}]`, exact);
    const rows = list.ok && Array.isArray(list.value) ? rowsOf(list.value, "line", exact) : undefined;
    if (rows === AGAIN || rows?.ok) return rows;
  }
  const whole = parseJson(trimmed, exact);
  if (whole.ok) {
    const r = normalize(whole.value, () => "the body", exact);
    return r === AGAIN || !r.ok ? r : ok([r.value]);
  }
  if (!multiline) return fail("bad_value", `line 1 is not JSON: ${whole.error.message}`);
  const rows: DataRow[] = [];
  for (const [i, line] of trimmed.split(/\r?\n/).entries()) {
    if (line.trim() === "") continue;
    const parsed = parseJson(line, exact);
    if (!parsed.ok) return fail("bad_value", `line ${i + 1} is not JSON: ${parsed.error.message}`);
    const r = normalize(parsed.value, () => `line ${i + 1}`, exact);
    if (r === AGAIN || !r.ok) return r;
    rows.push(r.value);
  }
  return ok(rows);
}
