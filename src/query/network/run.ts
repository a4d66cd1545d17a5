/**
 * @module query/network/run
 * `sql` across the network (`run client (...) sql ...`, REST `destination: network`): the
 * query is planned (query/network/plan), sent at once to one operator of every cluster that
 * holds the table (or to the peers named), and their replies merged into one answer in the
 * reply shapes of a local query. A peer that does not answer within the timeout fails the
 * query naming it, unless `subset = true`, which answers with the peers that replied and
 * says which did not. A query with AnyLog's time functions (`increments`, `period`) asked of
 * one node takes the same path with that node as its only operator.
 */
import type { Args, NetworkTarget, Reply } from "../../commands/spec.ts";
import type { CommandContext } from "../../commands/context.ts";
import type { PeerPage, PeerReply } from "../../network/transport.ts";
import { AnyLogError, type Result, fail, ok } from "../../util/result.ts";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type QueryAnswer, formatOf, mapPages, queryReply } from "../reply.ts";
import { looksLikeTime, showTime, zoneOf } from "../time.ts";
import { lastTimeQuery, periodOf, withPeriod } from "../time-functions.ts";
import { type DataGroup, dataGroups, floatColumns, orderedColumns, tableColumns } from "./data-nodes.ts";
import { nodeSlot } from "../../node/slot.ts";
import { MergeTable, type Merged } from "./merge.ts";
import { planNetworkQuery } from "./plan.ts";
import { queryLog } from "./query-log.ts";
import { quoteIdent } from "./sql-text.ts";
import { extendName } from "../run.ts";

/** A peer that has no such table holds none of its rows (a cluster may hold a table no row of which reached this member yet). */
const NO_TABLE = /no such table|relation "[^"]*" does not exist/i;

/** The command an operator runs: its part of the query (planned: run as written), rows as JSON objects, times in UTC, with the `extend` columns. */
function remoteCommand(dbms: string, sql: string, extend: string[], maxTime: number | undefined): string {
  const ext = extend.length > 0 ? ` and extend = (${extend.join(", ")})` : "";
  const time = maxTime !== undefined ? ` and max_time = ${maxTime}` : "";
  return `sql ${dbms} format = json:list and stat = false and timezone = utc and planned = true${ext}${time} "${sql.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
}

/** Who answers the operators' part of a query: the peers over TCP, or this node itself. */
interface Answerers {
  names: string[];
  /** Asks answerer `index`; rows of a large answer come to `onPage` as they arrive. */
  ask(index: number, command: string, onPage: (page: PeerPage) => void): Promise<Result<PeerReply>>;
  subset: boolean;
  /** This node alone (`sql` with time functions and no destination). */
  local?: boolean;
}

function peersAnswer(ctx: CommandContext, peers: string[], target: NetworkTarget): Answerers {
  const from = `${ctx.node.name}@${ctx.node.dictionary.lookup("ip") ?? ""}`;
  return {
    names: peers,
    subset: target.subset,
    // the asker giving up (a REST timeout) cancels the operators' parts too
    ask: (i, command, onPage) => ctx.node.peers.request(peers[i]!, { command, from }, target.timeoutMs, { onPage, signal: ctx.signal }),
  };
}

/** When a member last failed to answer (a member that failed lately is asked last). */
const lastFailed = nodeSlot(() => new Map<string, number>());
/** How long a member that failed is asked after the others of its cluster. */
const FAILED_LATELY_MS = 30_000;

/**
 * One member of each cluster answers (the members of a cluster hold the same data): the
 * first that does. A member that does not answer — down, or past the timeout — before it
 * sent any row gives way to the next of its cluster; `names[i]` is then the one that answered.
 */
function clusterAnswers(ctx: CommandContext, groups: DataGroup[], target: NetworkTarget): Answerers {
  const from = `${ctx.node.name}@${ctx.node.dictionary.lookup("ip") ?? ""}`;
  const failed = lastFailed(ctx.node);
  const lately = (m: string) => Date.now() - (failed.get(m) ?? 0) < FAILED_LATELY_MS;
  const order = groups.map((g) => [...g.members.filter((m) => !lately(m)), ...g.members.filter(lately)]);
  const names = order.map((members) => members[0]!);
  return {
    names,
    subset: target.subset,
    async ask(i, command, onPage) {
      let answer: Result<PeerReply> | undefined;
      for (const member of order[i]!) {
        let paged = false;
        names[i] = member;
        answer = await ctx.node.peers.request(member, { command, from }, target.timeoutMs, {
          onPage: (page) => {
            paged = true;
            onPage(page);
          },
          signal: ctx.signal,
        });
        const away = !answer.ok && (answer.error.code === "peer_failed" || answer.error.code === "timeout");
        if (!away) {
          failed.delete(member);
          return answer;
        }
        failed.set(member, Date.now());
        if (paged || ctx.signal?.aborted) return answer; // (its rows came in part: another member's would count them twice)
      }
      return answer!;
    },
  };
}

function selfAnswers(ctx: CommandContext): Answerers {
  return {
    names: ["local"],
    subset: false,
    local: true,
    async ask(_i, command) {
      const r = await ctx.node.execute(command, { ...ctx, stream: false });
      return ok(r.ok ? { ok: true, reply: r.value } : { ok: false, code: r.error.code, message: r.error.message });
    },
  };
}

interface Distributed {
  merged: Merged;
  /** Operators that answered. */
  nodes: number;
  /** Operators asked. */
  asked: number;
  missing: Array<{ peer: string; error: string }>;
}

/** One table a query reads (its FROM, or an `include`) and who holds it. */
interface Part {
  dbms: string;
  table: string;
  who: Answerers;
}

/** Where a merge too large for memory is kept while its query runs. */
const spillDirOf = (ctx: CommandContext): string => join(ctx.node.dictionary.lookup("tmp_dir") ?? tmpdir(), "merge");

/**
 * Plans `query`, has the answerers of every part run their part, merges all they sent as one
 * table (pages of a large reply as they arrive). With `stream`, a large answer comes with
 * `more` pages to read (the merge table stays open until they are).
 */
async function distribute(ctx: CommandContext, query: string, parts: Part[], extend: string[], options: { maxTime?: number; stream?: boolean } = {}): Promise<Result<Distributed>> {
  const plan = await planNetworkQuery(query, extend.map(extendName), orderedColumns(ctx.node, parts[0]!.dbms, parts[0]!.table));
  if (!plan.ok) return plan;
  const { table, remote, local } = plan.value;
  // rows keep the columns of the table policy, in its order (`select *` as one database would answer)
  const columns = plan.value.mode === "rows" ? [...new Set([...extend.map(extendName), ...tableColumns(ctx.node, parts[0]!.dbms, table), ...plan.value.columns])] : plan.value.columns;
  const from = `FROM ${quoteIdent(table)}`;
  const asks = parts.flatMap((part) => {
    // an included table is read as if it were the query's own
    const sql = part.table === table ? remote : remote.replace(from, `FROM ${quoteIdent(part.table)}`);
    const command = remoteCommand(part.dbms, sql, extend, options.maxTime);
    // (the name is read when it is shown: a cluster's answer may come from another member)
    return part.who.names.map((_, i) => ({
      get name() {
        return part.who.names[i]!;
      },
      run: (onPage: (page: PeerPage) => void) => part.who.ask(i, command, onPage),
    }));
  });
  const subset = parts[0]!.who.subset;
  const log = queryLog(ctx.node);
  const record = log.begin({ command: query, dbms: parts[0]!.dbms, remote, local, create: "", operators: asks.map((a) => ({ address: a.name, status: "sent", rows: 0 })) });
  // rows keep a float column's floats (aggregates' partials are cast where it matters: avg)
  const merge = new MergeTable(table, columns, spillDirOf(ctx), plan.value.mode === "rows" ? floatColumns(ctx.node, parts[0]!.dbms, table) : []);
  let broken: AnyLogError | undefined;
  const failed = (error: AnyLogError): Result<never> => {
    merge.close();
    log.end(record, { error: error.message });
    return fail(error.code, error.message);
  };
  const answers = await Promise.all(
    asks.map(async (ask, i) => {
      const state = record.operators[i]!;
      const a = await ask.run((page) => {
        const added = merge.add(i, page.columns, page.rows);
        if (!added.ok) broken ??= added.error;
        state.rows += page.rows.length;
      });
      state.ms = Date.now() - record.started.getTime();
      state.address = ask.name;
      if (a.ok && a.value.ok) {
        state.status = "replied";
        if (Array.isArray(a.value.reply)) state.rows = a.value.reply.length;
      } else {
        state.status = "failed";
        state.error = a.ok ? (a.value.ok ? undefined : a.value.message) : a.error.message;
      }
      return a;
    }),
  );
  if (parts.length === 1 && parts[0]!.who.local) {
    // this node alone: its error is the query's, as a local query's would be
    const a = answers[0]!;
    if (a.ok && !a.value.ok) return failed(new AnyLogError(a.value.code, a.value.message));
  }
  const missing: Array<{ peer: string; error: string; timedOut: boolean }> = [];
  answers.forEach((a, i) => {
    const peer = asks[i]!.name;
    let error: string | undefined;
    if (!a.ok) error = a.error.message;
    else if (!a.value.ok) {
      if (!NO_TABLE.test(a.value.message)) error = `${peer} answered with an error: ${a.value.message}`;
    } else if (Array.isArray(a.value.reply)) {
      const added = merge.addObjects(i, a.value.reply.filter((r): r is Record<string, unknown> => typeof r === "object" && r !== null));
      if (!added.ok) broken ??= added.error;
    } else if (typeof a.value.reply !== "object" || a.value.reply === null || !("rows" in a.value.reply)) error = `${peer} answered something that is not rows`;
    if (error === undefined) return;
    missing.push({ peer, error, timedOut: !a.ok && a.error.code === "timeout" });
    merge.drop(i); // the pages it sent before it failed
  });
  if (broken) return failed(broken);
  if (missing.length === asks.length || (missing.length > 0 && !subset)) {
    const timedOut = missing.every((m) => m.timedOut);
    const names = missing.map((m) => m.error).join("; ");
    const message = `network query: ${missing.length} of ${asks.length} operators did not answer: ${names}${subset ? "" : " (with subset = true the others' rows are answered)"}`;
    return failed(new AnyLogError(timedOut ? "timeout" : "peer_failed", message));
  }
  const merged = merge.answer(local, options.stream === true);
  if (!merged.ok) {
    log.end(record, { error: merged.error.message });
    return merged;
  }
  record.create = merged.value.create;
  log.end(record, { rows: merged.value.rows.length });
  return ok({ merged: merged.value, nodes: asks.length - missing.length, asked: asks.length, missing });
}

/** `query` with its period(...) replaced by the times it stands for: the last time at or before its date is found first. */
async function resolvePeriod(ctx: CommandContext, query: string, table: string, parts: Part[]): Promise<Result<string>> {
  const period = periodOf(query);
  if (!period.ok) return period;
  if (!period.value) return ok(query);
  const found = await distribute(ctx, lastTimeQuery(period.value, table), parts, []);
  if (!found.ok) return found;
  const last = found.value.merged.rows[0]?.[0];
  return ok(withPeriod(query, period.value, typeof last === "string" ? last : null));
}

/** Who holds `dbms.table`. */
type Finder = (dbms: string, table: string) => Result<Answerers>;

/** The answer of a distributed query in the asked format, times shown in the asked zone. */
async function answer(ctx: CommandContext, args: Args, query: string, find: Finder): Promise<Result<Reply>> {
  const started = performance.now();
  const dbms = args.str("dbms", "");
  const format = formatOf(args.str("format"));
  if (!format.ok) return format;
  const zone = zoneOf(args.str("timezone"));
  if (!zone.ok) return zone;
  const extend = args.list("extend");
  const plan = await planNetworkQuery(query, extend.map(extendName));
  if (!plan.ok) return plan;
  // the query's table, and those of `include = (dbms.table, ...)` read as if they were it
  const tables = [{ dbms, table: plan.value.table }];
  for (const item of args.list("include")) {
    const [d, t] = item.includes(".") ? [item.slice(0, item.indexOf(".")), item.slice(item.indexOf(".") + 1)] : [dbms, item];
    if (!d || !t) return fail("bad_value", `include '${item}' is not dbms.table`);
    tables.push({ dbms: d.trim(), table: t.trim().toLowerCase() });
  }
  const parts: Part[] = [];
  for (const t of tables) {
    const who = find(t.dbms, t.table);
    if (!who.ok) return who;
    parts.push({ ...t, who: who.value });
  }
  const resolved = await resolvePeriod(ctx, query, plan.value.table, parts);
  if (!resolved.ok) return resolved;
  // max_time bounds each operator's part too: a query past it stops everywhere
  const done = await distribute(ctx, resolved.value, parts, extend, { maxTime: args.int("max_time"), stream: ctx.stream });
  if (!done.ok) return done;
  const { merged, nodes, asked, missing } = done.value;
  ctx.node.metrics.queries++;
  const shown = (rows: unknown[][]) => rows.map((r) => r.map((v) => (typeof v === "string" && looksLikeTime(v) ? showTime(v, zone.value) : v)));
  const result: QueryAnswer = {
    columns: merged.columns,
    rows: shown(merged.rows),
    elapsedMs: performance.now() - started,
    nodes,
    more: merged.more && mapPages(merged.more, shown),
    // with subset, who took part
    statistics: parts[0]!.who.subset
      ? { "Target Nodes": asked, "Participating Nodes": nodes, ...(missing.length > 0 ? { "Not Participating": missing.map((m) => m.peer) } : {}) }
      : undefined,
  };
  return ok(queryReply(result, format.value, args.bool("stat", true)));
}

/** `sql` sent across the network: to the peers named, or to one operator of each cluster that holds each table. */
export function runNetworkSql(ctx: CommandContext, args: Args, query: string, target: NetworkTarget): Promise<Result<Reply>> {
  const named = target.peers;
  if (named && named.length > 0) return answer(ctx, args, query, () => ok(peersAnswer(ctx, named, target)));
  return answer(ctx, args, query, (dbms, table) => {
    const groups = dataGroups(ctx.node, dbms, table);
    return groups.ok ? ok(clusterAnswers(ctx, groups.value, target)) : groups;
  });
}

/** Whether a query uses AnyLog's time functions, which a node answers through the planner even alone. */
export const usesTimeFunctions = (query: string): boolean => /\b(increments|period)\s*\(/i.test(query);

/** `sql` with `increments` or `period` on this node alone: planned and merged as a network query with one operator. */
export function runLocalTimeSql(ctx: CommandContext, args: Args, query: string): Promise<Result<Reply>> {
  return answer(ctx, args, query, () => ok(selfAnswers(ctx)));
}
