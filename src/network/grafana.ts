/**
 * @module network/grafana
 * The REST server as a Grafana JSON data source (the `simpod-json-datasource` plugin AnyLog
 * documents): `POST /search` and `POST /metrics` list the `dbms.table`s of the metadata;
 * `POST /query` answers each target (`"dbms.table"`, AnyLog's payload in `payload` or
 * `data`) with a network query: `increments` (time buckets sized from the dashboard's range
 * and `maxDataPoints`, the default), `period`, `sql`, or `info` (a command's rows). Each is
 * AnyLog command text run by the node, as any REST request; replies are the plugin's
 * time series (`{target, datapoints: [[value, epoch ms], ...]}`) or tables
 * (`grafana.format_as = table`); an error is `{message, status}`.
 */
import type { Context, Hono } from "hono";
import type { Node } from "../node/node.ts";
import { body } from "../metadata/policy.ts";
import { errorText } from "../util/result.ts";

interface Target {
  target?: unknown;
  refId?: unknown;
  payload?: unknown;
  data?: unknown;
}

interface Payload {
  type?: string;
  time_column?: string;
  value_column?: string | string[];
  functions?: string[];
  where?: string;
  interval?: string;
  timezone?: string;
  servers?: string | string[];
  sql?: string;
  details?: string;
  grafana?: { format_as?: string };
}

interface QueryBody {
  range?: { from?: string; to?: string };
  intervalMs?: number;
  maxDataPoints?: number;
  targets?: Target[];
}

type Series = { target: string; datapoints: Array<[unknown, number]> };
type Table = { type: "table"; columns: Array<{ text: string; type?: string }>; rows: unknown[][] };

class GrafanaError extends Error {
  constructor(
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

/** A JSON-ish payload: an object, or its JSON text (the plugin's editor sends either). */
function payloadOf(t: Target): Payload {
  const raw = t.payload ?? t.data;
  if (typeof raw === "string") {
    if (raw.trim() === "") return {};
    try {
      return JSON.parse(raw) as Payload;
    } catch {
      throw new GrafanaError(`the payload of target '${String(t.target)}' is not JSON`);
    }
  }
  return typeof raw === "object" && raw !== null ? (raw as Payload) : {};
}

const NAME = /^[A-Za-z_][\w]*$/;
const quote = (sql: string) => sql.replaceAll("\\", "\\\\").replaceAll('"', '\\"');
const time = (text: string) => `'${new Date(text).toISOString().replace("T", " ").replace("Z", "000")}'`;
const epochMs = (v: unknown) => (typeof v === "string" ? Date.parse(`${v.trim().replace(" ", "T")}Z`) : Number(v));

/** The bucket of `increments` for the dashboard: its range in about maxDataPoints buckets, or the payload's "N unit". */
function bucketOf(body: QueryBody, p: Payload): [string, number] {
  const asked = (p.interval ?? "").trim().toLowerCase();
  const m = /^(\d+)\s*(second|minute|hour|day|week|month|year)s?$/.exec(asked);
  if (m) return [m[2]!, Number(m[1])];
  const from = Date.parse(body.range?.from ?? "");
  const to = Date.parse(body.range?.to ?? "");
  let seconds = Math.max(1, Math.ceil((body.intervalMs ?? 0) / 1000));
  if (Number.isFinite(from) && Number.isFinite(to) && to > from) seconds = Math.max(seconds, Math.ceil((to - from) / 1000 / Math.max(1, body.maxDataPoints ?? 500)));
  for (const [unit, size] of [["day", 86_400], ["hour", 3_600], ["minute", 60]] as const) {
    if (seconds >= size && seconds % size === 0) return [unit, seconds / size];
  }
  return seconds >= 3_600 ? ["hour", Math.ceil(seconds / 3_600)] : seconds >= 60 ? ["minute", Math.ceil(seconds / 60)] : ["second", seconds];
}

export function grafanaRoutes(app: Hono, node: Node, run: (command: string) => Promise<{ ok: true; value: unknown } | { ok: false; error: { message: string; code: string } }>): void {
  /** The rows of a network query (objects), or an error for Grafana. */
  async function rows(dbms: string, sql: string, p: Payload): Promise<Array<Record<string, unknown>>> {
    const servers = Array.isArray(p.servers) ? p.servers.join(", ") : (p.servers ?? "");
    const r = await run(`run client (${servers}) sql ${dbms} format = json:list and stat = false and timezone = utc "${quote(sql)}"`);
    if (!r.ok) throw new GrafanaError(r.error.message, r.error.code === "not_found" ? 404 : 400);
    return Array.isArray(r.value) ? (r.value as Array<Record<string, unknown>>) : [];
  }

  async function answerTarget(body: QueryBody, t: Target): Promise<Array<Series | Table>> {
    const name = String(t.target ?? "");
    const [dbms, table] = name.split(".");
    if (!dbms || !table || !NAME.test(dbms) || !NAME.test(table)) throw new GrafanaError(`target '${name}' is not dbms.table`);
    const p = payloadOf(t);
    const type = (p.type ?? "increments").toLowerCase();
    const asTable = (p.grafana?.format_as ?? "").toLowerCase() === "table";
    const tableOf = (list: Array<Record<string, unknown>>): Table => {
      const columns = list.length > 0 ? Object.keys(list[0]!) : [];
      return { type: "table", columns: columns.map((text) => ({ text })), rows: list.map((r) => columns.map((c) => r[c] ?? null)) };
    };

    if (type === "info") {
      const r = await run(p.details ?? "get status where format = json");
      if (!r.ok) throw new GrafanaError(r.error.message);
      const value = r.value;
      const list = Array.isArray(value) ? value : [value];
      return [tableOf(list.map((v) => (typeof v === "object" && v !== null ? (v as Record<string, unknown>) : { value: v })))];
    }
    if (type === "sql") {
      if (!p.sql) throw new GrafanaError(`target '${name}': a payload of type sql needs its "sql"`);
      const list = await rows(dbms, p.sql, p);
      if (asTable || list.length === 0) return [tableOf(list)];
      // a time column and value columns: one series per value column
      const columns = Object.keys(list[0]!);
      const timeCol = columns.find((c) => typeof list[0]![c] === "string" && Number.isFinite(epochMs(list[0]![c])));
      if (!timeCol) return [tableOf(list)];
      return columns.filter((c) => c !== timeCol).map((c) => ({ target: c, datapoints: list.map((r) => [r[c] ?? null, epochMs(r[timeCol])] as [unknown, number]) }));
    }

    const timeColumn = p.time_column ?? "timestamp";
    const values = Array.isArray(p.value_column) ? p.value_column : [p.value_column ?? "value"];
    const functions = (p.functions ?? ["avg"]).map((f) => f.toLowerCase());
    for (const c of [timeColumn, ...values]) if (!NAME.test(c)) throw new GrafanaError(`'${c}' is not a column name`);
    for (const f of functions) if (!["min", "max", "avg", "sum", "count", "range"].includes(f)) throw new GrafanaError(`'${f}' is not one of min, max, avg, sum, count, range`);
    const aggregates = values.flatMap((v) => functions.map((f) => ({ label: `${f}(${v})`, sql: f === "count" ? `count(${v})` : `${f}(${v})` })));
    const select = aggregates.map((a, i) => `${a.sql} as a${i}`).join(", ");
    const where = p.where ? ` and (${p.where})` : "";
    let sql: string;
    let at: (r: Record<string, unknown>) => number;
    if (type === "period") {
      const [unit, n] = bucketOf(body, { ...p, interval: p.interval ?? "1 hour" });
      const end = body.range?.to ? time(body.range.to) : "now()";
      sql = `select max(${timeColumn}) as t, ${select} from ${table} where period(${unit}, ${n}, ${end}, ${timeColumn})${where}`;
      at = (r) => epochMs(r.t);
    } else if (type === "increments") {
      const [unit, n] = bucketOf(body, p);
      const range = body.range?.from && body.range?.to ? ` and ${timeColumn} >= ${time(body.range.from)} and ${timeColumn} <= ${time(body.range.to)}` : "";
      sql = `select increments(${unit}, ${n}, ${timeColumn}), min(${timeColumn}) as t, ${select} from ${table} where 1 = 1${range}${where}`;
      at = (r) => epochMs(r.t);
    } else throw new GrafanaError(`payload type '${p.type}' is not increments, period, sql or info`);
    const list = (await rows(dbms, sql, p)).filter((r) => r.t !== null && r.t !== undefined);
    if (asTable) {
      return [{ type: "table", columns: [{ text: "Time", type: "time" }, ...aggregates.map((a) => ({ text: a.label, type: "number" }))], rows: list.map((r) => [at(r), ...aggregates.map((_, i) => r[`a${i}`] ?? null)]) }];
    }
    return aggregates.map((a, i) => ({ target: a.label, datapoints: list.map((r) => [r[`a${i}`] ?? null, at(r)] as [unknown, number]) }));
  }

  const failure = (c: Context, e: unknown) => {
    const status = e instanceof GrafanaError ? e.status : 500;
    return c.json({ message: errorText(e), status }, status as 400);
  };

  async function tableNames(c: Context): Promise<string[]> {
    const local = node.metadata.local();
    if (!local.ok) throw new GrafanaError(local.error.message, 500);
    let filter = "";
    try {
      const body = (await c.req.json()) as { target?: unknown };
      filter = typeof body?.target === "string" ? body.target.toLowerCase() : "";
    } catch {
      // no body: every table
    }
    const names = local.value.select(["table"], []).map((p) => {
      const b = body(p);
      return `${String(b.dbms ?? "")}.${String(b.name ?? "")}`;
    });
    return [...new Set(names)].filter((n) => n.toLowerCase().includes(filter)).sort();
  }

  app.post("/search", async (c) => {
    try {
      return c.json(await tableNames(c));
    } catch (e) {
      return failure(c, e);
    }
  });

  app.post("/metrics", async (c) => {
    try {
      return c.json((await tableNames(c)).map((n) => ({ label: n, value: n })));
    } catch (e) {
      return failure(c, e);
    }
  });

  app.post("/query", async (c) => {
    let body: QueryBody;
    try {
      body = (await c.req.json()) as QueryBody;
    } catch {
      return c.json({ message: "the body is not JSON (a Grafana query request)", status: 400 }, 400);
    }
    try {
      const out: Array<Series | Table> = [];
      for (const t of body.targets ?? []) out.push(...(await answerTarget(body, t)));
      return c.json(out);
    } catch (e) {
      return failure(c, e);
    }
  });
}
