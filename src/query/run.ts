/**
 * @module query/run
 * Answers a query on this node: the statement must only read (query/statement), it runs on the
 * named dbms through the storage `read` (the engine refuses writes too), `increments(...)` as the
 * engine's time-bucket number (query/time-functions), times are shown in the
 * asked zone (query/time), `extend` columns are put first, and the answered query is counted in
 * the node's metrics.
 */
import type { Node } from "../node/node.ts";
import type { ReadAnswer } from "../storage/database.ts";
import { type Result, fail, ok } from "../util/result.ts";
import type { QueryAnswer } from "./reply.ts";
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
  /** `max_volume`: bytes of result before the query is refused (DEFAULT_MAX_VOLUME). */
  maxVolume?: number;
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

/** Engine values as the reply shows them: time columns (and undeclared time-like text) in `zone`. */
function shown(answer: ReadAnswer, zone: Zone): unknown[][] {
  const kinds = answer.columns.map((c) => c.kind);
  return answer.rows.map((row) =>
    row.map((v, i) => {
      if (typeof v !== "string") return v;
      if (kinds[i] === "timestamp" || (kinds[i] === "unknown" && looksLikeTime(v))) return showTime(v, zone);
      return v;
    }),
  );
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
  const answer = await db.value.read(statement.value.text, { timeoutMs: (q.maxTime ?? DEFAULT_MAX_TIME) * 1000, maxBytes: q.maxVolume ?? DEFAULT_MAX_VOLUME });
  if (!answer.ok) return answer;
  const rows = shown(answer.value, zone.value);
  const extra = extend.value;
  node.metrics.queries++;
  return ok({
    columns: [...extra.map((e) => e.name), ...answer.value.columns.map((c) => c.name)],
    rows: extra.length === 0 ? rows : rows.map((r) => [...extra.map((e) => e.value), ...r]),
    elapsedMs: performance.now() - started,
    nodes: 1,
  });
}
