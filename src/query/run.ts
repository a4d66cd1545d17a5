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
  /** The `extend` option: `@ip`, `@port`, `@dbms`, `@table`, `@node_name` (with `.str|.int|.float`) or a `!key` value, each with an optional `as <name>`. */
  extend?: string[];
}

interface Extension {
  name: string;
  value: unknown;
}

const NODE_VALUES = ["ip", "port", "dbms", "table", "node_name"] as const;

/**
 * The columns `extend` adds, with their values for this node and query. A `!key` term reaches
 * here already replaced by its dictionary value (the command line substitutes it), so it is a
 * constant, named by its `as <name>` or `extend<n>`.
 */
function extensions(node: Node, terms: string[], dbms: string, table: string | undefined): Result<Extension[]> {
  const out: Extension[] = [];
  for (const [n, term] of terms.entries()) {
    const m = /^(?:@(\w+)(?:\.(str|int|float))?|(.*?))(?:\s+as\s+(.+))?$/is.exec(term.trim())!;
    const [, key, cast, constant, alias] = m as unknown as [string, string | undefined, string | undefined, string | undefined, string | undefined];
    let value: unknown = constant ?? null;
    if (key !== undefined) {
      const k = key.toLowerCase();
      if (!(NODE_VALUES as readonly string[]).includes(k)) return fail("bad_value", `extend value '@${key}' is not one of ${NODE_VALUES.map((v) => `@${v}`).join(", ")}`);
      const port = node.dictionary.lookup("anylog_server_port");
      value = k === "ip" ? node.dictionary.lookup("ip") : k === "port" ? (port ? Number(port) : null) : k === "dbms" ? dbms : k === "table" ? (table ?? null) : node.name;
      if (value !== null && value !== undefined && cast) {
        const num = cast === "int" ? Number.parseInt(String(value), 10) : Number.parseFloat(String(value));
        value = cast === "str" ? String(value) : Number.isFinite(num) ? num : null;
      }
    }
    out.push({ name: alias?.trim() || key || `extend${n + 1}`, value: value ?? null });
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
  const answer = await db.value.read(statement.value.text);
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
