/**
 * @module query/network/run
 * `sql` across the network (`run client (...) sql ...`, REST `destination: network`): the
 * query is planned (query/network/plan), sent at once to one operator of every cluster that
 * holds the table (or to the peers named), and their replies merged into one answer in the
 * reply shapes of a local query. A peer that does not answer within the timeout fails the
 * query naming it, unless `subset = true`, which answers with the peers that replied and
 * says which did not.
 */
import type { Args, NetworkTarget, Reply } from "../../commands/spec.ts";
import type { CommandContext } from "../../commands/context.ts";
import { type Result, fail, ok } from "../../util/result.ts";
import { type QueryAnswer, formatOf, queryReply } from "../reply.ts";
import { looksLikeTime, showTime, zoneOf } from "../time.ts";
import { dataGroups } from "./data-nodes.ts";
import { mergeRows } from "./merge.ts";
import { planNetworkQuery } from "./plan.ts";
import { queryLog } from "./query-log.ts";

/** A peer that has no such table holds none of its rows (a cluster may hold a table no row of which reached this member yet). */
const NO_TABLE = /no such table|relation "[^"]*" does not exist/i;

/** The command an operator runs: its part of the query, rows as JSON objects, times in UTC. */
function remoteCommand(dbms: string, sql: string): string {
  return `sql ${dbms} format = json:list and stat = false and timezone = utc "${sql.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
}

export async function runNetworkSql(ctx: CommandContext, args: Args, query: string, target: NetworkTarget): Promise<Result<Reply>> {
  const started = performance.now();
  const node = ctx.node;
  const dbms = args.str("dbms", "");
  const format = formatOf(args.str("format"));
  if (!format.ok) return format;
  const zone = zoneOf(args.str("timezone"));
  if (!zone.ok) return zone;
  for (const unsupported of ["include", "extend"]) {
    if (args.list(unsupported).length > 0) return fail("unavailable", `'${unsupported}' is not supported on network queries in this build`);
  }
  const plan = await planNetworkQuery(query);
  if (!plan.ok) return plan;
  const { table, remote, local, columns } = plan.value;

  let peers = target.peers;
  if (!peers || peers.length === 0) {
    const groups = dataGroups(node, dbms, table);
    if (!groups.ok) return groups;
    peers = groups.value.map((g) => g.members[0]!); // one member per cluster (fail-over among them: the HA work)
  }

  const from = `${node.name}@${node.dictionary.lookup("ip") ?? ""}`;
  const command = remoteCommand(dbms, remote);
  const log = queryLog(node);
  const record = log.begin({ command: query, dbms, remote, local, create: "", operators: peers.map((address) => ({ address, status: "sent", rows: 0 })) });
  const answers = await Promise.all(
    peers.map(async (p, i) => {
      const a = await node.peers.request(p, { command, from }, target.timeoutMs);
      const state = record.operators[i]!;
      state.ms = Date.now() - record.started.getTime();
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
  const rows: Array<Record<string, unknown>> = [];
  const missing: Array<{ peer: string; error: string }> = [];
  answers.forEach((a, i) => {
    const peer = peers[i]!;
    if (!a.ok) missing.push({ peer, error: a.error.message });
    else if (!a.value.ok) {
      if (!NO_TABLE.test(a.value.message)) missing.push({ peer, error: `${peer} answered with an error: ${a.value.message}` });
    } else if (Array.isArray(a.value.reply)) {
      for (const r of a.value.reply) if (typeof r === "object" && r !== null) rows.push(r as Record<string, unknown>);
    } else missing.push({ peer, error: `${peer} answered something that is not rows` });
  });
  if (missing.length === peers.length || (missing.length > 0 && !target.subset)) {
    const timedOut = answers.every((a) => !a.ok && a.error.code === "timeout");
    const names = missing.map((m) => m.error).join("; ");
    const message = `network query: ${missing.length} of ${peers.length} operators did not answer: ${names}${target.subset ? "" : " (with subset = true the others' rows are answered)"}`;
    log.end(record, { error: message });
    return fail(timedOut ? "timeout" : "peer_failed", message);
  }

  const merged = mergeRows(table, columns, rows, local);
  if (!merged.ok) {
    log.end(record, { error: merged.error.message });
    return merged;
  }
  record.create = merged.value.create;
  log.end(record, { rows: merged.value.rows.length });
  node.metrics.queries++;
  const answer: QueryAnswer = {
    columns: merged.value.columns,
    rows: merged.value.rows.map((r) => r.map((v) => (typeof v === "string" && looksLikeTime(v) ? showTime(v, zone.value) : v))),
    elapsedMs: performance.now() - started,
    nodes: peers.length - missing.length,
  };
  const reply = queryReply(answer, format.value, args.bool("stat", true));
  if (!target.subset || !args.bool("stat", true) || typeof reply !== "object" || reply === null || !("Statistics" in reply)) return ok(reply);
  const stats = (reply as { Statistics: Array<Record<string, unknown>> }).Statistics[0]!;
  stats["Target Nodes"] = peers.length;
  stats["Participating Nodes"] = answer.nodes;
  if (missing.length > 0) stats["Not Participating"] = missing.map((m) => m.peer);
  return ok(reply);
}
