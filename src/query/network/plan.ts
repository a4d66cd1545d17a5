/**
 * @module query/network/plan
 * How a query over many operators is answered as if by one database: the query each
 * operator runs (`remote`) and the query the asking node runs over the union of their
 * replies (`local`, in an in-memory SQLite table named like the queried table).
 *
 * Aggregate queries are rewritten, as AnyLog does: each operator groups by the query's
 * group keys (and the time buckets of `increments(...)`, which the operator's `sql` turns into
 * its engine's bucket number, query/time-functions) and returns partial aggregates (count, sum, min, max; avg as sum and count;
 * `range(x)` as max(x) - min(x)), and the local query combines them, then applies HAVING,
 * ORDER BY, LIMIT and OFFSET. Everything else — plain row queries, DISTINCT aggregates
 * (count(distinct x)), aggregates this module does not split — ships the matching rows
 * (WHERE runs on the operators) and runs the query itself locally, which is always correct.
 */
import { type Result, fail, ok } from "../../util/result.ts";
import { blankQuoted } from "../statement.ts";
import { callsOf } from "../time-functions.ts";
import { type SqlNode, UnsupportedSql, argsOf, columnOf, functionName, nodesOf, quoteIdent, sqlText } from "./sql-text.ts";

export interface NetworkPlan {
  /** The table the query reads (its FROM), lower case. */
  table: string;
  /** What each operator runs. */
  remote: string;
  /** What runs over the merged replies (a table named `table`). */
  local: string;
  /** Columns the merged table must have even when no operator sent a row. */
  columns: string[];
  mode: "aggregate" | "rows";
}

/** node-sql-parser's parser, loaded on the first network query (a node that never asks one does not load it). */
let parser: Promise<{ astify(sql: string, opt: object): unknown }> | undefined;
async function parse(sql: string): Promise<Result<SqlNode>> {
  parser ??= import("node-sql-parser/build/postgresql").then((m) => new m.Parser());
  let ast: unknown;
  try {
    ast = (await parser).astify(sql, { database: "postgresql" });
  } catch (e) {
    const message = e instanceof Error ? e.message.split("\n")[0] : String(e);
    return fail("syntax", `the query could not be read for the network: ${message}`);
  }
  const list = Array.isArray(ast) ? ast : [ast];
  if (list.length !== 1) return fail("syntax", "a network query is one SELECT statement");
  const stmt = list[0] as SqlNode;
  if (stmt.type !== "select") return fail("syntax", "a network query is a SELECT statement");
  return ok(stmt);
}

const SPLIT = new Set(["COUNT", "SUM", "MIN", "MAX", "AVG"]);

/** Plans of the queries asked lately, by their text: dashboards ask the same ones again and again (a plan costs ~1 ms). */
const plans = new Map<string, NetworkPlan>();
const PLANS_KEPT = 256;

/**
 * Plans `sql` (the user's text) for the operators and the merge. `extend`: the names of the
 * columns each operator adds to its rows (`extend = (@ip, ...)`): shown first, and in an
 * aggregate query grouped by (a count per operator). `ordered`: the table's columns that sort
 * alike on SQLite and PostgreSQL (numbers, times; not text, whose collation may differ): rows
 * ordered by them and limited are limited on the operators too.
 */
export async function planNetworkQuery(sql: string, extend: string[] = [], ordered: string[] = []): Promise<Result<NetworkPlan>> {
  const key = `${extend.join("\u0001")}\u0000${ordered.join("\u0001")}\u0000${sql}`;
  const known = plans.get(key);
  if (known) {
    plans.delete(key); // most recently used last
    plans.set(key, known);
    return ok(known);
  }
  const planned = await planAnew(sql, extend, ordered);
  if (planned.ok) {
    plans.set(key, planned.value);
    if (plans.size > PLANS_KEPT) plans.delete(plans.keys().next().value!);
  }
  return planned;
}

async function planAnew(sql: string, extend: string[], ordered: string[]): Promise<Result<NetworkPlan>> {
  const parsed = await parse(sql);
  if (!parsed.ok) return parsed;
  const stmt = parsed.value;
  if (stmt.with) return fail("syntax", "a network query cannot use WITH: query one table");
  const from = stmt.from as Array<{ table?: unknown; join?: unknown; expr?: unknown }> | null;
  if (!from || from.length !== 1 || typeof from[0]!.table !== "string" || from[0]!.join || from[0]!.expr) {
    return fail("syntax", "a network query reads one table (no joins or subqueries in FROM)");
  }
  const table = from[0]!.table.toLowerCase();
  for (const n of nodesOf([stmt.columns, stmt.where, stmt.having, stmt.orderby, stmt.groupby])) {
    if (n.type === "select") return fail("syntax", "a network query cannot hold a subquery");
  }
  expandRange(stmt);
  const columns = [...new Set([...nodesOf(stmt)].filter((n) => n.type === "column_ref").flatMap((n) => columnOf(n) ?? []))];
  let where: string | undefined;
  try {
    where = stmt.where ? sqlText(stmt.where) : undefined;
  } catch {
    where = undefined; // the operators send every row; the local query filters them
  }
  try {
    const aggregate = aggregatePlan(sql, stmt, table, where, extend);
    if (aggregate) return ok(aggregate);
  } catch (e) {
    if (!(e instanceof UnsupportedSql)) throw e;
  }
  let local = rowsLocal(sql, stmt);
  if (extend.length > 0) {
    if (stmt.groupby || [...nodesOf(stmt.columns)].some((n) => n.type === "aggr_func")) {
      return fail("unavailable", "extend goes with rows, or with count, sum, min, max, avg and range, across the network (not with count(distinct ...))");
    }
    // the operators' columns first in every row
    local = local.replace(/^\s*select\s+(distinct\s+)?/i, (m) => `${m}${extend.map(quoteIdent).join(", ")}, `);
  }
  if ((stmt.columns as Array<{ expr: SqlNode }>).some((c) => c.expr.type === "function" && functionName(c.expr).toLowerCase() === "increments")) {
    return fail("unavailable", "increments(...) goes with count, sum, min, max, avg and range only across the network (not with count(distinct ...) or a column outside the aggregates)");
  }
  return ok({ table, remote: rowsRemote(stmt, table, where, ordered), local, columns: [...extend, ...columns], mode: "rows" });
}

/** `range(x)` is AnyLog's max(x) - min(x): rewritten in place before planning. */
function expandRange(stmt: SqlNode): void {
  for (const n of nodesOf(stmt)) {
    if (n.type !== "function" || functionName(n).toLowerCase() !== "range") continue;
    const [arg] = argsOf(n);
    if (!arg) continue;
    const agg = (name: string) => ({ type: "aggr_func", name, args: { expr: arg }, over: null });
    for (const k of Object.keys(n)) delete n[k];
    Object.assign(n, { type: "binary_expr", operator: "-", left: agg("MAX"), right: agg("MIN") });
  }
}

/**
 * Rows mode: the matching rows (WHERE on the operators). A LIMIT without ORDER BY, aggregates
 * or DISTINCT goes along (any rows will do). One with ORDER BY does not: the engines order
 * NULLs and text differently (PostgreSQL's collation), so an operator's first rows by its own
 * order need not hold the first rows of the merge.
 */
function rowsRemote(stmt: SqlNode, table: string, where: string | undefined, ordered: string[]): string {
  const sql = `SELECT * FROM ${quoteIdent(table)}${where ? ` WHERE ${where}` : ""}`;
  const limit = limitOf(stmt);
  const simple = !stmt.groupby && !(stmt.distinct as { type?: unknown } | null)?.type && ![...nodesOf(stmt.columns)].some((n) => n.type === "aggr_func");
  // a WHERE the operators cannot be sent is applied after the merge: no operator may stop early
  if (!simple || limit?.count === undefined || (stmt.where && !where)) return sql;
  const enough = ` LIMIT ${limit.count + (limit.offset ?? 0)}`;
  if (!stmt.orderby) return `${sql}${enough}`;
  // each operator's first rows in the query's order hold the answer's, when every key is a
  // column that sorts alike everywhere; NULLs placed as SQLite places them (first ascending)
  const aliases = new Set((stmt.columns as Array<{ as?: unknown }>).map((c) => (typeof c.as === "string" ? c.as.toLowerCase() : "")));
  const keys = (stmt.orderby as Array<{ expr: SqlNode; type?: string }>).map((o) => {
    // a name that is also a select alias orders by the alias, not the column
    const name = o.expr.type === "column_ref" ? columnOf(o.expr)?.toLowerCase() : undefined;
    if (name && aliases.has(name)) return undefined;
    const desc = String(o.type ?? "ASC").toUpperCase() === "DESC";
    return name && ordered.includes(name) ? `${quoteIdent(name)} ${desc ? "DESC NULLS LAST" : "ASC NULLS FIRST"}` : undefined;
  });
  return keys.every((k) => k !== undefined) ? `${sql} ORDER BY ${keys.join(", ")}${enough}` : sql;
}

/**
 * The user's query for the merged rows, with AnyLog's `range(x)` written as SQLite has it:
 * `(max(x) - min(x))`, and a select item that held it named as the user wrote it.
 */
function rowsLocal(sql: string, stmt: SqlNode): string {
  if (!/\brange\s*\(/i.test(blankQuoted(sql))) return sql;
  const texts = selectItemTexts(sql);
  const items = stmt.columns as Array<{ as?: unknown }>;
  let out = sql;
  // select items without an alias keep the name SQLite would give the text as written
  texts.forEach((text, i) => {
    if (typeof items[i]?.as !== "string" && /\brange\s*\(/i.test(blankQuoted(text))) out = out.replace(text, `${text} AS ${quoteIdent(text)}`);
  });
  for (const call of callsOf(out, "range").reverse()) {
    const arg = call.args.join(", ");
    out = `${out.slice(0, call.start)}(max(${arg}) - min(${arg}))${out.slice(call.end)}`;
  }
  return out;
}

function limitOf(stmt: SqlNode): { count?: number; offset?: number } | undefined {
  const l = stmt.limit as { seperator?: string; value?: Array<{ value?: unknown }> } | null;
  if (!l?.value?.length) return undefined;
  const nums = l.value.map((v) => Number(v.value));
  if (nums.some((n) => !Number.isInteger(n))) return undefined;
  if (l.seperator === ",") return { offset: nums[0], count: nums[1] }; // LIMIT offset, count
  return { count: nums[0], offset: nums[1] };
}

/** The text of each item of the select list as the user wrote it (SQLite names an unaliased column by it). */
function selectItemTexts(sql: string): string[] {
  const blank = blankQuoted(sql);
  const lower = blank.toLowerCase();
  const start = /\bselect\b\s*(distinct\b|all\b)?/i.exec(lower);
  if (!start) return [];
  let i = start.index + start[0].length;
  const items: string[] = [];
  let depth = 0;
  let from = i;
  for (; i < blank.length; i++) {
    const c = blank[i];
    if (c === "(") depth++;
    else if (c === ")") depth--;
    else if (depth === 0 && c === ",") {
      items.push(sql.slice(from, i).trim());
      from = i + 1;
    } else if (depth === 0 && /\bfrom\b/.test(lower.slice(i, i + 5)) && /\s/.test(blank[i - 1] ?? " ")) break;
  }
  items.push(sql.slice(from, i).trim());
  return items;
}

interface Partial {
  /** The partial's SQL on an operator, by its alias there. */
  remote: Array<[alias: string, sql: string]>;
  /** How the local query combines the partials. */
  merge: string;
}

/** Aggregate mode, or undefined when the query has no aggregates to split (or one that cannot be split). */
function aggregatePlan(sql: string, stmt: SqlNode, table: string, where: string | undefined, extend: string[]): NetworkPlan | undefined {
  type Item = { expr: SqlNode; as: string | null };
  const all = stmt.columns as Item[];
  // increments(unit, n, column) items group the rows by time bucket and are not shown
  const isBucket = (c: Item) => c.expr.type === "function" && functionName(c.expr).toLowerCase() === "increments";
  const buckets = all.filter(isBucket).map((c) => c.expr);
  const items = all.filter((c) => !isBucket(c));
  const clauses = [items, stmt.having, stmt.orderby];
  const aggregates = [...nodesOf(clauses)].filter((n) => n.type === "aggr_func");
  if (aggregates.length === 0 && !stmt.groupby && buckets.length === 0) return undefined;
  for (const a of aggregates) {
    if (!SPLIT.has(String(a.name).toUpperCase()) || (a.args as { distinct?: unknown } | undefined)?.distinct || a.over) return undefined;
  }
  for (const n of nodesOf(items)) if (n.type === "column_ref" && columnOf(n) === undefined) return undefined; // select *

  const aliases = new Map(items.filter((c) => typeof c.as === "string").map((c) => [c.as as string, c.expr]));
  // group keys: expressions, an ordinal (group by 1) or a select alias stand for the item's expression
  const keyNodes = ((stmt.groupby as { columns?: SqlNode[] } | null)?.columns ?? []).map((g) => {
    if (g.type === "number") return items[Number(g.value) - 1]?.expr ?? g;
    if (g.type === "column_ref" && aliases.has(columnOf(g) ?? "")) return aliases.get(columnOf(g)!)!;
    return g;
  });
  const keys = new Map<string, string>(); // key SQL -> its column in the merged table
  for (const k of [...buckets, ...keyNodes]) keys.set(sqlText(k), `__g${keys.size}`);

  const partials = new Map<string, Partial>();
  for (const a of aggregates) {
    const text = sqlText(a);
    if (partials.has(text)) continue;
    const name = String(a.name).toUpperCase();
    const p = `__p${partials.size}`;
    const [arg] = argsOf(a);
    const argText = arg ? sqlText(arg) : "*";
    if (name === "AVG") {
      partials.set(text, { remote: [[`${p}s`, `SUM(${argText})`], [`${p}c`, `COUNT(${argText})`]], merge: `(CAST(SUM(${quoteIdent(`${p}s`)}) AS REAL) / SUM(${quoteIdent(`${p}c`)}))` });
    } else if (name === "COUNT") {
      partials.set(text, { remote: [[p, `COUNT(${argText})`]], merge: `COALESCE(SUM(${quoteIdent(p)}), 0)` });
    } else partials.set(text, { remote: [[p, `${name}(${argText})`]], merge: `${name}(${quoteIdent(p)})` });
  }

  /** An expression of the local query: aggregates and group keys become the merged columns. */
  const local = (node: unknown): string =>
    sqlText(node, (n) => {
      if (n.type === "aggr_func") return partials.get(sqlText(n))!.merge;
      let text: string;
      try {
        text = sqlText(n);
      } catch {
        return undefined;
      }
      const key = keys.get(text);
      if (key) return quoteIdent(key);
      if (n.type === "column_ref") {
        const name = columnOf(n) ?? "";
        // a select alias (ORDER BY c, HAVING c > 1) is the local query's own; any other column is not in the merged table
        if (aliases.has(name)) return quoteIdent(name);
        throw new UnsupportedSql(`the column ${name} outside the group keys and the aggregates`);
      }
      return undefined;
    });

  const texts = selectItemTexts(sql).filter((_, i) => !(all[i] && isBucket(all[i])));
  const select = items.map((c, i) => {
    const name = typeof c.as === "string" ? c.as : c.expr.type === "column_ref" ? (columnOf(c.expr) ?? "") : (texts[i] ?? sqlText(c.expr));
    return `${local(c.expr)} AS ${quoteIdent(name)}`;
  });
  if (select.length === 0) throw new UnsupportedSql("a query that shows nothing but increments(...)");
  select.unshift(...extend.map((e) => `${quoteIdent(e)} AS ${quoteIdent(e)}`));
  const distinct = (stmt.distinct as { type?: unknown } | null)?.type ? "DISTINCT " : "";
  const grouped = [...extend, ...keys.values()];
  const groupBy = grouped.length > 0 ? ` GROUP BY ${grouped.map(quoteIdent).join(", ")}` : "";
  const having = stmt.having ? ` HAVING ${local(stmt.having)}` : "";
  const orders = (stmt.orderby as Array<{ expr: SqlNode; type: string | null }> | null) ?? [];
  // without an ORDER BY, time buckets come in time order
  const order = orders.length
    ? ` ORDER BY ${orders.map((o) => `${o.expr.type === "number" ? String(o.expr.value) : local(o.expr)}${o.type ? ` ${o.type}` : ""}`).join(", ")}`
    : buckets.length > 0
      ? ` ORDER BY ${buckets.map((_, i) => quoteIdent(`__g${i}`)).join(", ")}`
      : "";
  const limit = limitOf(stmt);
  const limitText = limit?.count !== undefined ? ` LIMIT ${limit.count}${limit.offset ? ` OFFSET ${limit.offset}` : ""}` : "";

  const remoteCols: Array<[alias: string, sql: string]> = [...[...keys].map(([k, alias]): [string, string] => [alias, k]), ...[...partials.values()].flatMap((p) => p.remote)];
  const remote = `SELECT ${remoteCols.map(([alias, s]) => `${s} AS ${quoteIdent(alias)}`).join(", ")} FROM ${quoteIdent(table)}${where ? ` WHERE ${where}` : ""}${keys.size > 0 ? ` GROUP BY ${[...keys.keys()].join(", ")}` : ""}`;
  if (stmt.where && !where) throw new UnsupportedSql("a WHERE the operators cannot be sent");
  return {
    table,
    remote,
    local: `SELECT ${distinct}${select.join(", ")} FROM ${quoteIdent(table)}${groupBy}${having}${order}${limitText}`,
    columns: [...extend, ...remoteCols.map(([alias]) => alias)],
    mode: "aggregate",
  };
}
