/**
 * @module ha/commands
 * The commands of HA: what cluster members ask each other (`ha unit`, `ha store`: a unit's
 * rows, and a unit to store, the payload gzip-compressed JSON), and what a user asks about
 * the data a node holds (`get tsd list | details | summary`, `get cluster info`).
 * `tsd_<member>` names the units that came from that member (their source `ha:<member>`);
 * `tsd_info` the units stored here first.
 */
import { gunzipSync } from "node:zlib";
import { command } from "../commands/spec.ts";
import type { Args } from "../commands/spec.ts";
import { addCommands } from "../commands/table.ts";
import type { Node } from "../node/node.ts";
import { type Result, errorText, fail, ok } from "../util/result.ts";
import { textTable } from "../util/text-table.ts";
import { clusterView } from "./cluster.ts";
import { HA_SOURCE, type Holding, type Unit, currentHoldings, digestOf, holdings, parseDate, readUnit, storeUnit } from "./units.ts";

/** The tsd table a holding belongs to: tsd_info, or tsd_<member> for what a member sent. */
export const tsdTableOf = (h: Holding): string => (h.source.startsWith(HA_SOURCE) ? `tsd_${h.source.slice(HA_SOURCE.length)}` : "tsd_info");

/** The holdings `where table = ... and hash = ... and start_date = ... and end_date = ... and limit = ...` selects. */
async function selected(node: Node, args: Args, defaultLimit: number): Promise<Result<Holding[]>> {
  const start = parseDate(args.str("start_date"));
  if (!start.ok) return start;
  const end = parseDate(args.str("end_date"));
  if (!end.ok) return end;
  const all = await holdings(node, { start: start.value, end: end.value, hash: args.str("hash") });
  if (!all.ok) return all;
  const table = (args.str("table") ?? "tsd_info").toLowerCase();
  const chosen = table === "*" ? all.value : all.value.filter((h) => tsdTableOf(h) === table);
  const limit = args.int("limit") ?? defaultLimit;
  return ok(limit > 0 ? chosen.slice(-limit) : chosen);
}

const rangeOptions = {
  table: { type: "str", help: "tsd_info (the default), tsd_<member>, or * for all" },
  hash: { type: "str", help: "one unit by its hash" },
  start_date: { type: "str", help: "stored at or after: -30d, -12h, or 'YY-MM-DD HH:MM:SS'" },
  end_date: { type: "str", help: "stored before" },
  format: { type: "str", help: "json or table" },
} as const;

addCommands(
  command({
    words: ["ha", "unit"],
    summary: "A stored unit's rows and column types, by its hash (what a cluster member pulls from another)",
    method: "GET",
    options: { hash: { type: "str", help: "the unit's tsd hash", required: true } },
    examples: ["ha unit where hash = 6c78d0b005a86933ba44573c09365ad5"],
    async handler(ctx, args) {
      return readUnit(ctx.node, args.str("hash", ""));
    },
  }),
  command({
    words: ["ha", "store"],
    summary: "Stores a unit a cluster member sent as the payload (gzip-compressed JSON), once, recorded as coming from that member",
    method: "POST",
    options: { origin: { type: "int", help: "the member id of the sender", required: true } },
    examples: ["ha store where origin = 145"],
    async handler(ctx, args) {
      const payload = ctx.payload;
      if (!payload) return fail("bad_option", "'ha store' takes a unit as the payload of a peer message: a cluster member's distributor sends it");
      let unit: Unit;
      try {
        unit = JSON.parse(gunzipSync(payload).toString("utf8")) as Unit;
      } catch (e) {
        return fail("bad_value", `the unit is not gzip-compressed JSON: ${errorText(e)}`);
      }
      if (typeof unit.hash !== "string" || typeof unit.dbms !== "string" || typeof unit.table !== "string" || !Array.isArray(unit.rows)) {
        return fail("bad_value", "the unit lacks dbms, table, hash or rows");
      }
      const stored = await storeUnit(ctx.node, unit, args.int("origin", 0));
      return stored.ok ? ok({ hash: unit.hash, ...stored.value }) : stored;
    },
  }),
  command({
    words: ["get", "tsd", "digest"],
    summary: "Per day stored: how many units this node holds and one hash of their hashes (what a consumer compares before it asks for details)",
    method: "GET",
    options: { start_date: rangeOptions.start_date, end_date: rangeOptions.end_date },
    examples: ["get tsd digest where start_date = -30d"],
    async handler(ctx, args) {
      const start = parseDate(args.str("start_date"));
      if (!start.ok) return start;
      const end = parseDate(args.str("end_date"));
      if (!end.ok) return end;
      const all = await currentHoldings(ctx.node, { start: start.value, end: end.value });
      return all.ok ? ok(digestOf(all.value)) : all;
    },
  }),
  command({
    words: ["get", "tsd", "list"],
    summary: "The tsd tables of this node: tsd_info (units stored here first) and tsd_<member> (units a cluster member sent)",
    method: "GET",
    options: { format: rangeOptions.format },
    async handler(ctx, args) {
      const all = await holdings(ctx.node);
      if (!all.ok) return all;
      const counts = new Map<string, number>([["tsd_info", 0]]);
      for (const h of all.value) counts.set(tsdTableOf(h), (counts.get(tsdTableOf(h)) ?? 0) + 1);
      const rows = [...counts].map(([table, units]) => ({ table, units }));
      return ok(args.str("format") === "json" ? rows : textTable(["Table", "Units"], rows.map((r) => [r.table, r.units])));
    },
  }),
  command({
    words: ["get", "tsd", "details"],
    summary: "The units recorded in a tsd table (the last 100 unless limit says): hash, dbms, table, rows, when stored",
    method: "GET",
    options: { ...rangeOptions, limit: { type: "int", help: "the last N units (0: all; default 100)" } },
    examples: ["get tsd details", "get tsd details where table = * and start_date = -3d", "get tsd details where table = tsd_info and hash = a00e6d4636b9fd8e1742d673275a75f7 and format = json"],
    async handler(ctx, args) {
      const chosen = await selected(ctx.node, args, 100);
      if (!chosen.ok) return chosen;
      const rows = chosen.value.map((h) => ({ table: tsdTableOf(h), file_id: h.fileId, dbms: h.dbms, name: h.table, hash: h.hash, rows: h.rows, time: h.time, source: h.source }));
      if (args.str("format") === "json") return ok(rows);
      return ok(textTable(["TSD table", "File ID", "DBMS", "Table", "Hash", "Rows", "Stored", "Source"], rows.map((r) => [r.table, r.file_id, r.dbms, r.name, r.hash, r.rows, r.time, r.source])));
    },
  }),
  command({
    words: ["get", "tsd", "summary"],
    summary: "Per tsd table and dbms.table: units, rows, first and last time stored",
    method: "GET",
    options: rangeOptions,
    examples: ["get tsd summary", "get tsd summary where table = *", "get tsd summary where start_date = -3d"],
    async handler(ctx, args) {
      const chosen = await selected(ctx.node, args, 0);
      if (!chosen.ok) return chosen;
      const groups = new Map<string, { tsd: string; dbms: string; table: string; units: number; rows: number; first: string; last: string }>();
      for (const h of chosen.value) {
        const key = `${tsdTableOf(h)}|${h.dbms}|${h.table}`;
        const g = groups.get(key) ?? { tsd: tsdTableOf(h), dbms: h.dbms, table: h.table, units: 0, rows: 0, first: h.time, last: h.time };
        g.units++;
        g.rows += h.rows;
        if (h.time < g.first) g.first = h.time;
        if (h.time > g.last) g.last = h.time;
        groups.set(key, g);
      }
      const rows = [...groups.values()];
      if (args.str("format") === "json") return ok(rows);
      return ok(textTable(["TSD table", "DBMS", "Table", "Units", "Rows", "First", "Last"], rows.map((g) => [g.tsd, g.dbms, g.table, g.units, g.rows, g.first, g.last])));
    },
  }),
  command({
    words: ["test", "cluster", "data"],
    summary: "Whether every operator of this cluster holds the same data: units and rows per table on each member",
    method: "GET",
    options: { start_date: rangeOptions.start_date, end_date: rangeOptions.end_date, format: rangeOptions.format },
    examples: ["test cluster data", "test cluster data where start_date = -7d"],
    async handler(ctx, args) {
      const view = clusterView(ctx.node);
      if (!view.ok) return view;
      const range = [["start_date", args.str("start_date")], ["end_date", args.str("end_date")]].filter(([, v]) => v).map(([k, v]) => ` and ${k} = "${v}"`).join("");
      const ask = `get tsd summary where table = *${range} and format = json`;
      const members = [view.value.me, ...view.value.peers];
      const answers = await Promise.all(
        members.map(async (m, i): Promise<Result<Array<{ dbms: string; table: string; units: number; rows: number }>>> => {
          if (i === 0) {
            const r = await ctx.node.execute(ask, { ...ctx, stream: false });
            return r.ok ? ok(r.value as Array<{ dbms: string; table: string; units: number; rows: number }>) : r;
          }
          const r = await ctx.node.peers.request(m.address, { command: ask }, 20_000);
          if (!r.ok) return r;
          return r.value.ok ? ok(r.value.reply as Array<{ dbms: string; table: string; units: number; rows: number }>) : fail(r.value.code, r.value.message);
        }),
      );
      // per dbms.table, each member's units and rows over all its tsd tables
      const tables = new Map<string, Array<{ units: number; rows: number } | string>>();
      answers.forEach((a, i) => {
        if (!a.ok) return;
        for (const g of a.value) {
          const key = `${g.dbms}.${g.table}`;
          const per = tables.get(key) ?? members.map(() => ({ units: 0, rows: 0 }));
          const cell = per[i] as { units: number; rows: number };
          cell.units += g.units;
          cell.rows += g.rows;
          tables.set(key, per);
        }
      });
      const rows = [...tables].map(([table, per]) => {
        const cells = per.map((c, i) => (answers[i]!.ok ? c : `error: ${(answers[i] as { error: { message: string } }).error.message}`));
        const counts = cells.filter((c) => typeof c !== "string").map((c) => JSON.stringify(c));
        return { table, members: Object.fromEntries(members.map((m, i) => [m.address, cells[i]])), same: counts.length === members.length && new Set(counts).size === 1 };
      });
      if (args.str("format") === "json") return ok({ members: members.map((m) => ({ address: m.address, member: m.member })), tables: rows });
      const header = ["Table", ...members.map((m) => `${m.name || m.member} ${m.address}`), "Same"];
      const show = (c: unknown) => (typeof c === "string" ? c : `${(c as { units: number }).units}/${(c as { rows: number }).rows}`);
      return ok(textTable(header, rows.map((r) => [r.table, ...members.map((m) => show(r.members[m.address])), r.same ? "yes" : "no"])));
    },
  }),
  command({
    words: ["get", "cluster", "info"],
    summary: "This operator's cluster: its id, this node's member id, the cluster's operators",
    method: "GET",
    options: { format: rangeOptions.format },
    handler(ctx, args) {
      const view = clusterView(ctx.node);
      if (!view.ok) return view;
      const { clusterId, me, peers } = view.value;
      const members = [me, ...peers].map((m) => ({ name: m.name, address: m.address, member: m.member, self: m === me }));
      if (args.str("format") === "json") return ok({ cluster: clusterId, member: me.member, members });
      return ok(`Cluster ID : ${clusterId}\nMember ID  : ${me.member}\n${textTable(["Operator", "Address", "Member", "This node"], members.map((m) => [m.name, m.address, m.member, m.self ? "yes" : ""]))}`);
    },
  }),
);
