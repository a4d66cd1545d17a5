/**
 * @module query/run
 * Answers a query on this node: the statement must only read (query/statement), it runs on the
 * named dbms through the storage `read` (the engine refuses writes too), `increments(...)` as the
 * engine's time-bucket number (query/time-functions), times are shown in the
 * asked zone (query/time), `extend` columns are put first, and the answered query is counted in
 * the node's metrics.
 */
import type { Node } from "../node/node.ts";
import { type Column, type PagedRead, type ReadAnswer, rowBytes } from "../storage/database.ts";
import { type Result, fail, ok } from "../util/result.ts";
import { HELD_BYTES, type QueryAnswer, mapPages } from "./reply.ts";
import { readStatement } from "./statement.ts";
import { type Zone, looksLikeTime, showTime, zoneOf } from "./time.ts";
import { withBuckets } from "./time-functions.ts";

export interface LocalQuery {
  dbms: string;
  sql: string;
  /** The `timezone` option (local when absent). */
  timezone?: string;
  /** The `extend` option: `@ip`, `@port`, `@dbms_name`, `@table_name`, `@node_name` (with `.str|.int|.float`), `+key` or a `!key` value, each with an optional `as <name>`. */
  extend?: string[];
  /** `max_time`: seconds before the query is stopped (DEFAULT_MAX_TIME). */
  maxTime?: number;
  /** `max_volume`: bytes of result held whole before the query is refused (DEFAULT_MAX_VOLUME). */
  maxVolume?: number;
  /** The asker can take the answer as it is read (`more` pages): a large result is not held whole, nor bounded by the default max_volume. */
  stream?: boolean;
  /** Aborts when the asker gives up: the query is stopped. */
  signal?: AbortSignal;
}

/** A query runs at most this long unless `max_time` says otherwise (seconds; the REST server's own timeout). */
export const DEFAULT_MAX_TIME = 20;
/** A query's result may hold this much unless `max_volume` says otherwise. */
export const DEFAULT_MAX_VOLUME = 64 * 1024 * 1024;

interface Extension {
  name: string;
  value: unknown;
}

const NODE_VALUES = ["ip", "port", "dbms", "table", "node_name", "dbms_name", "table_name"] as const;

const TERM = /^(?:@(\w+)(?:\.(str|int|float))?|\+(\w+)|(.*?))(?:\s+as\s+(.+))?$/is;

/** The column an `extend` term adds: its `as <name>`, the node value's or dictionary key's name, else `extend<n>` (n from 1). */
export function extendName(term: string, index: number): string {
  const [, key, , dictKey, , alias] = TERM.exec(term.trim()) as unknown as Array<string | undefined>;
  return alias?.trim() || key || dictKey || `extend${index + 1}`;
}

/**
 * The columns `extend` adds, with their values for this node and query: a node value
 * (`@ip`, `@port`, `@dbms_name`, `@table_name`, `@node_name`, with `.str|.int|.float`), a
 * dictionary value of this node (`+key`), or a constant (a `!key` term reaches here already
 * replaced by the asking node's value), each with an optional `as <name>`.
 */
function extensions(node: Node, terms: string[], dbms: string, table: string | undefined): Result<Extension[]> {
  const out: Extension[] = [];
  for (const [n, term] of terms.entries()) {
    const [, key, cast, dictKey, constant] = TERM.exec(term.trim()) as unknown as Array<string | undefined>;
    let value: unknown = constant ?? null;
    if (dictKey !== undefined) value = node.dictionary.lookup(dictKey) ?? null;
    if (key !== undefined) {
      const k = key.toLowerCase();
      if (!(NODE_VALUES as readonly string[]).includes(k)) return fail("bad_value", `extend value '@${key}' is not one of ${NODE_VALUES.map((v) => `@${v}`).join(", ")}`);
      const port = node.dictionary.lookup("anylog_server_port");
      value = k === "ip" ? node.dictionary.lookup("ip") : k === "port" ? (port ? Number(port) : null) : k.startsWith("dbms") ? dbms : k.startsWith("table") ? (table ?? null) : node.name;
      if (value !== null && value !== undefined && cast) {
        const num = cast === "int" ? Number.parseInt(String(value), 10) : Number.parseFloat(String(value));
        value = cast === "str" ? String(value) : Number.isFinite(num) ? num : null;
      }
    }
    out.push({ name: extendName(term, n), value: value ?? null });
  }
  return ok(out);
}

/** Engine values as the reply shows them: time columns (and undeclared time-like text) in `zone`, the `extend` values first. */
function shownRows(rows: unknown[][], columns: Column[], zone: Zone, extra: Extension[]): unknown[][] {
  const kinds = columns.map((c) => c.kind);
  const prefix = extra.map((e) => e.value);
  return rows.map((row) => {
    const shown = row.map((v, i) => {
      if (typeof v !== "string") return v;
      if (kinds[i] === "timestamp" || (kinds[i] === "unknown" && looksLikeTime(v))) return showTime(v, zone);
      return v;
    });
    return prefix.length === 0 ? shown : [...prefix, ...shown];
  });
}


export async function runLocalQuery(node: Node, q: LocalQuery): Promise<Result<QueryAnswer>> {
  const started = performance.now();
  const db = node.databases.require(q.dbms);
  if (!db.ok) return db;
  const text = /\bincrements\s*\(/i.test(q.sql) ? withBuckets(q.sql, db.value.engine) : ok(q.sql);
  if (!text.ok) return text;
  const statement = readStatement(text.value);
  if (!statement.ok) return statement;
  const zone = zoneOf(q.timezone);
  if (!zone.ok) return zone;
  const extend = extensions(node, q.extend ?? [], db.value.name, statement.value.table);
  if (!extend.ok) return extend;
  const limits = { timeoutMs: (q.maxTime ?? DEFAULT_MAX_TIME) * 1000, maxBytes: q.maxVolume ?? DEFAULT_MAX_VOLUME, signal: q.signal };
  const show = (rows: unknown[][], columns: Column[]) => shownRows(rows, columns, zone.value, extend.value);
  let read: Result<ReadAnswer>;
  let more: PagedRead | undefined;
  // a max_volume the user set bounds the answer, streamed or not
  if (!q.stream || q.maxVolume !== undefined) read = await db.value.read(statement.value.text, limits);
  else {
    // pages are held until they pass HELD_BYTES: a small answer is whole, a large one streams
    const pages = db.value.readPaged(statement.value.text, limits);
    const held: ReadAnswer = { columns: [], rows: [] };
    let bytes = 0;
    read = ok(held);
    try {
      for (;;) {
        const page = await pages.next();
        if (page.done) break;
        if (!page.value.ok) {
          read = page.value;
          break;
        }
        held.columns = page.value.value.columns;
        for (const row of page.value.value.rows) {
          held.rows.push(row);
          bytes += rowBytes(row);
        }
        if (bytes > HELD_BYTES) {
          more = pages;
          break;
        }
      }
    } finally {
      if (!more) await pages.return(); // the read's worker goes back to the pool
    }
  }
  if (!read.ok) return read;
  const answer = read.value;
  node.metrics.queries++;
  return ok({
    columns: [...extend.value.map((e) => e.name), ...answer.columns.map((c) => c.name)],
    rows: show(answer.rows, answer.columns),
    elapsedMs: performance.now() - started,
    nodes: 1,
    more: more && mapPages(more, (page) => show(page.rows, page.columns)),
  });
}
