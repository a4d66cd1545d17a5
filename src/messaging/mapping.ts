/**
 * @module messaging/mapping
 * How a message client's `topic = (...)` block turns a message into rows (AnyLog's mapping):
 *   name = <MQTT topic filter>, dbms = <name | "bring [key]...">, table = <same>, qos = 0..2,
 *   column.<name>.<type> = "bring [a][b]" | now | <constant>
 *   column.<name> = (value = ... and type = str|int|float|timestamp|bool and optional = true)
 * `bring` paths read the message's JSON; a `[]` step reads every element of a list, so
 * `"bring [readings][][value]"` gives one row per element (EdgeX's shape), the columns
 * without `[]` repeated on each. A dbms or table taken from the message is lower-cased with
 * spaces as `_`. `now` is one timestamp per message. A payload that is a JSON list is one
 * message per element. A message that does not fit is an error that says why.
 * A blob column, `column.file = (value = "bring [image]" and blob = true and apply =
 * base64decoding and extension = png)` (AnyLog's mapping-policy names; `hash = md5` is the
 * only hash), holds the blob's id `<md5>.<extension>` in the row; its bytes are in
 * `MappedRows.blobs` for the message client to store (blobs/mapping-blobs) before the rows.
 */
import { createHash } from "node:crypto";
import { type Result, fail, ok } from "../util/result.ts";
import { validFilter } from "./topics.ts";

export const COLUMN_TYPES = ["str", "int", "float", "timestamp", "bool"] as const;
export type ColumnType = (typeof COLUMN_TYPES)[number];

/** Where a value comes from: the message (a path; `null` steps are `[]`), the receive time, or a constant. */
type Source = { kind: "bring"; path: Array<string | null> } | { kind: "now" } | { kind: "constant"; value: string };

interface ColumnRule {
  name: string;
  type: ColumnType;
  source: Source;
  optional: boolean;
  /** A blob column: the value's bytes (base64-decoded, or the text's UTF-8) are a blob; the row holds its id. */
  blob?: { extension: string; base64: boolean };
}

/** A blob a message carried, and the row cells that hold its id. */
export interface MappedBlob {
  id: string;
  hash: string;
  extension: string;
  bytes: Uint8Array;
  cells: Array<{ row: Record<string, unknown>; column: string }>;
}

export interface TopicRule {
  /** The MQTT topic filter (or REST topic name). */
  name: string;
  qos: 0 | 1 | 2;
  dbms: Source;
  table: Source;
  columns: ColumnRule[];
}

/** Rows of one message for one table. */
export interface MappedRows {
  dbms: string;
  table: string;
  rows: Array<Record<string, unknown>>;
  /** The columns' types as the mapping declares them (a float that came as 20 is still a float). */
  types: Map<string, StoredType>;
  /** Blobs the rows reference (blob columns), one per distinct content. */
  blobs: MappedBlob[];
}

/** A mapping type as the intake names column types. */
export type StoredType = "text" | "int" | "float" | "timestamp" | "bool";
const STORED: Record<ColumnType, StoredType> = { str: "text", int: "int", float: "float", timestamp: "timestamp", bool: "bool" };

const TOPIC_KEYS = new Set(["name", "dbms", "table", "qos"]);

/** A value as written: `bring [a][b]`, `now`, or a constant. */
function sourceOf(text: string, what: string): Result<Source> {
  const t = text.trim();
  if (t.toLowerCase() === "now" || t.toLowerCase() === "now()") return ok({ kind: "now" });
  const m = /^bring\s+((?:\[[^\]]*\])+)$/i.exec(t);
  if (!m) {
    if (/^bring\b/i.test(t)) return fail("bad_value", `${what}: '${t}' is not 'bring [key][key]...'`);
    return ok({ kind: "constant", value: t });
  }
  const path = [...m[1]!.matchAll(/\[([^\]]*)\]/g)].map((s) => (s[1]!.trim() === "" ? null : s[1]!.trim()));
  return ok({ kind: "bring", path });
}

/** A topic block, checked: unknown keys, types and wildcards are errors at `run` time. */
export function topicRule(block: Record<string, unknown>): Result<TopicRule> {
  const name = typeof block.name === "string" ? block.name.trim() : "";
  if (!name) return fail("bad_option", "a topic needs a name: topic = (name = <topic> and dbms = ... and table = ...)");
  if (!validFilter(name)) return fail("bad_value", `topic name '${name}' is not an MQTT topic filter (+ and # stand for whole levels, # last)`);
  for (const key of Object.keys(block)) {
    if (!TOPIC_KEYS.has(key) && !key.startsWith("column.")) return fail("bad_option", `topic '${name}': unknown key '${key}' (name, dbms, table, qos, column.<name>[.<type>])`);
  }
  const qos = block.qos === undefined ? 0 : Number(block.qos);
  if (qos !== 0 && qos !== 1 && qos !== 2) return fail("bad_value", `topic '${name}': qos must be 0, 1 or 2, not '${String(block.qos)}'`);
  if (typeof block.dbms !== "string" || typeof block.table !== "string") return fail("bad_option", `topic '${name}' needs dbms and table (a name or "bring [key]")`);
  const dbms = sourceOf(block.dbms, `topic '${name}' dbms`);
  if (!dbms.ok) return dbms;
  const table = sourceOf(block.table, `topic '${name}' table`);
  if (!table.ok) return table;
  const columns: ColumnRule[] = [];
  for (const [key, value] of Object.entries(block)) {
    if (!key.startsWith("column.")) continue;
    const [, col, typed] = key.split(".");
    const what = `topic '${name}' ${key}`;
    if (!col) return fail("bad_option", `${what}: the column needs a name (column.<name>[.<type>])`);
    let text: unknown = value;
    let type: string | undefined = typed;
    let optional = false;
    let blob: ColumnRule["blob"];
    if (typeof value === "object" && value !== null && !Array.isArray(value)) {
      const o = value as Record<string, unknown>;
      const keys = ["value", "bring", "type", "optional", "blob", "apply", "extension", "hash"];
      for (const k of Object.keys(o)) if (!keys.includes(k)) return fail("bad_option", `${what}: unknown key '${k}' (${keys.join(", ")})`);
      text = o.value ?? (o.bring !== undefined ? `bring ${String(o.bring)}` : undefined);
      type = typeof o.type === "string" ? o.type : type;
      optional = o.optional === true || String(o.optional).toLowerCase() === "true";
      const isBlob = o.blob === true || String(o.blob).toLowerCase() === "true";
      if (!isBlob && (o.apply !== undefined || o.extension !== undefined || o.hash !== undefined)) return fail("bad_option", `${what}: apply, extension and hash are for a blob column: add blob = true`);
      if (isBlob) {
        const apply = o.apply === undefined ? undefined : String(o.apply).toLowerCase();
        if (apply !== undefined && apply !== "base64decoding") return fail("bad_value", `${what}: apply = ${String(o.apply)} is not supported (base64decoding)`);
        if (o.hash !== undefined && String(o.hash).toLowerCase() !== "md5") return fail("bad_value", `${what}: hash = ${String(o.hash)} is not supported (md5)`);
        const extension = o.extension === undefined ? "" : String(o.extension).replace(/^\./, "").toLowerCase();
        if (extension && !/^[a-z0-9]{1,10}$/.test(extension)) return fail("bad_value", `${what}: extension '${String(o.extension)}' is not a file extension`);
        blob = { extension, base64: apply === "base64decoding" };
        type = "str"; // the row holds the blob's id
      }
    }
    if (typeof text !== "string" && typeof text !== "number" && typeof text !== "boolean") return fail("bad_option", `${what}: no value (bring [key], now, or a constant)`);
    const t = (type ?? "str").toLowerCase();
    if (!(COLUMN_TYPES as readonly string[]).includes(t)) return fail("bad_value", `${what}: type '${type}' is not one of ${COLUMN_TYPES.join(", ")}`);
    const source = sourceOf(String(text), what);
    if (!source.ok) return source;
    columns.push({ name: col.toLowerCase(), type: t as ColumnType, source: source.value, optional, ...(blob ? { blob } : {}) });
  }
  if (columns.length === 0) return fail("bad_option", `topic '${name}' maps no columns: add column.<name>.<type> = "bring [key]"`);
  const lists = new Set(columns.flatMap((c) => (c.source.kind === "bring" && c.source.path.includes(null) ? [JSON.stringify(c.source.path.slice(0, c.source.path.indexOf(null)))] : [])));
  if (lists.size > 1) return fail("bad_value", `topic '${name}': the columns read different lists ([] after different keys); one list gives the rows`);
  return ok({ name, qos, dbms: dbms.value, table: table.value, columns });
}

/** The value at `path` (no `[]` steps), or undefined. */
function at(message: unknown, path: Array<string | null>): unknown {
  let v = message;
  for (const step of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = Array.isArray(v) && /^\d+$/.test(step ?? "") ? v[Number(step)] : (v as Record<string, unknown>)[step ?? ""];
  }
  return v;
}

/** A message value as the column's type, or why it is not one. */
function typed(v: unknown, type: ColumnType): Result<unknown> {
  switch (type) {
    case "str":
      return ok(typeof v === "object" ? JSON.stringify(v) : String(v));
    case "int": {
      const n = typeof v === "number" ? v : typeof v === "string" && v.trim() !== "" ? Number(v) : Number.NaN;
      return Number.isInteger(n) ? ok(n) : fail("bad_value", `'${String(v)}' is not an int`);
    }
    case "float": {
      const n = typeof v === "number" ? v : typeof v === "string" && v.trim() !== "" ? Number(v) : Number.NaN;
      return Number.isFinite(n) ? ok(n) : fail("bad_value", `'${String(v)}' is not a float`);
    }
    case "bool": {
      if (typeof v === "boolean") return ok(v);
      const s = String(v).toLowerCase();
      return s === "true" || s === "1" ? ok(true) : s === "false" || s === "0" ? ok(false) : fail("bad_value", `'${String(v)}' is not a bool`);
    }
    case "timestamp": {
      // epoch seconds or milliseconds, or text a date reads
      const ms = typeof v === "number" ? (v > 1e11 ? v : v * 1000) : Date.parse(String(v).replace(" ", "T"));
      if (!Number.isFinite(ms)) return fail("bad_value", `'${String(v)}' is not a timestamp`);
      return ok(typeof v === "string" ? v : new Date(ms).toISOString());
    }
  }
}

/** A dbms or table name from its source: lower case, spaces as `_`. */
function nameOf(source: Source, message: unknown, what: string): Result<string> {
  const v = source.kind === "constant" ? source.value : source.kind === "bring" ? at(message, source.path) : undefined;
  if (typeof v !== "string" && typeof v !== "number") return fail("bad_value", `the message has no ${what} at ${source.kind === "bring" ? source.path.map((s) => `[${s ?? ""}]`).join("") : "'now'"}`);
  const name = String(v).trim().toLowerCase().replace(/\s+/g, "_");
  return name ? ok(name) : fail("bad_value", `the message's ${what} is empty`);
}

/** One message (already parsed JSON, not a list) as rows of its dbms.table. */
function mapOne(rule: TopicRule, message: unknown, now: string): Result<MappedRows> {
  const dbms = nameOf(rule.dbms, message, "dbms");
  if (!dbms.ok) return dbms;
  const table = nameOf(rule.table, message, "table");
  if (!table.ok) return table;
  // the list that gives the rows, if a column reads one
  const listed = rule.columns.find((c) => c.source.kind === "bring" && c.source.path.includes(null));
  let elements: unknown[] = [undefined];
  let prefix: Array<string | null> = [];
  if (listed && listed.source.kind === "bring") {
    prefix = listed.source.path.slice(0, listed.source.path.indexOf(null));
    const list = at(message, prefix);
    if (!Array.isArray(list)) return fail("bad_value", `the message has no list at ${prefix.map((s) => `[${s}]`).join("")}`);
    elements = list;
  }
  const rows: Array<Record<string, unknown>> = [];
  const blobs = new Map<string, MappedBlob>();
  for (const element of elements) {
    const row: Record<string, unknown> = {};
    for (const c of rule.columns) {
      let v: unknown;
      if (c.source.kind === "now") v = now;
      else if (c.source.kind === "constant") v = c.source.value;
      else {
        const i = c.source.path.indexOf(null);
        v = i < 0 ? at(message, c.source.path) : at(element, c.source.path.slice(i + 1));
      }
      if (v === undefined || v === null) {
        if (c.optional) continue;
        const path = c.source.kind === "bring" ? c.source.path.map((s) => `[${s ?? ""}]`).join("") : "";
        return fail("bad_value", `the message has no value for column '${c.name}' at ${path} (mark the column optional = true if it may be missing)`);
      }
      if (c.blob) {
        const b = blobOf(v, c.blob);
        if (!b.ok) return fail("bad_value", `column '${c.name}': ${b.error.message}`);
        const held = blobs.get(b.value.id) ?? { ...b.value, cells: [] };
        blobs.set(b.value.id, held);
        held.cells.push({ row, column: c.name });
        row[c.name] = b.value.id;
        continue;
      }
      const value = typed(v, c.type);
      if (!value.ok) return fail("bad_value", `column '${c.name}': ${value.error.message}`);
      row[c.name] = value.value;
    }
    rows.push(row);
  }
  return ok({ dbms: dbms.value, table: table.value, rows, types: new Map(rule.columns.map((c) => [c.name, STORED[c.type]])), blobs: [...blobs.values()] });
}

/** A blob column's value as bytes, with its md5 and id (`<md5>.<extension>`). */
function blobOf(v: unknown, rule: NonNullable<ColumnRule["blob"]>): Result<Omit<MappedBlob, "cells">> {
  if (typeof v !== "string") return fail("bad_value", `a blob is text (${rule.base64 ? "base64" : "its bytes as text"}), not ${typeof v}`);
  let bytes: Uint8Array;
  if (rule.base64) {
    const clean = v.replace(/\s+/g, "");
    if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(clean)) return fail("bad_value", "the blob is not base64 text (apply = base64decoding)");
    bytes = Buffer.from(clean, "base64");
  } else bytes = Buffer.from(v, "utf8");
  const hash = createHash("md5").update(bytes).digest("hex");
  return ok({ id: rule.extension ? `${hash}.${rule.extension}` : hash, hash, extension: rule.extension, bytes });
}

/** A payload's rows, grouped by dbms.table; a JSON list is one message per element. */
export function mapPayload(rule: TopicRule, payload: string, now = new Date().toISOString()): Result<MappedRows[]> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload);
  } catch {
    return fail("bad_value", `the message is not JSON: ${payload.length > 60 ? `${payload.slice(0, 60)}...` : payload}`);
  }
  const messages = Array.isArray(parsed) ? parsed : [parsed];
  const groups = new Map<string, MappedRows>();
  for (const m of messages) {
    if (m === null || typeof m !== "object") return fail("bad_value", "the message is not a JSON object (or a list of them)");
    const mapped = mapOne(rule, m, now);
    if (!mapped.ok) return mapped;
    const key = `${mapped.value.dbms}.${mapped.value.table}`;
    const group = groups.get(key);
    if (group) {
      group.rows.push(...mapped.value.rows);
      group.blobs.push(...mapped.value.blobs);
    } else groups.set(key, mapped.value);
  }
  return ok([...groups.values()]);
}
