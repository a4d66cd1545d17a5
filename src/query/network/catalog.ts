/**
 * @module query/network/catalog
 * What query tools ask a node first, answered from the metadata: `get tables`, `get columns`,
 * `get data nodes` (which operators hold which tables), `test network` (is every node the
 * metadata names reachable) and `test node` (does this node answer on its own addresses).
 */
import { addCommands } from "../../commands/table.ts";
import { command } from "../../commands/spec.ts";
import type { Node } from "../../node/node.ts";
import { ipPort } from "../../metadata/bring.ts";
import { type PolicyBody, body, policyType } from "../../metadata/policy.ts";
import { peerTimeoutMs } from "../../network/peers.ts";
import { type Result, fail, ok } from "../../util/result.ts";
import { textTable } from "../../util/text-table.ts";
import { columnsOfCreate, dataGroups, tablePolicy } from "./data-nodes.ts";

const format = { type: "str", help: "json for a JSON reply, a text table otherwise" } as const;
const asJson = (f: string | undefined) => (f ?? "").toLowerCase() === "json";

/** The table policies of the local copy, optionally of one dbms (`*` for all). */
function tablePolicies(node: Node, dbms: string | undefined): Result<PolicyBody[]> {
  const local = node.metadata.local();
  if (!local.ok) return local;
  const all = local.value.select(["table"], []).map(body);
  return ok(dbms === undefined || dbms === "*" ? all : all.filter((t) => String(t.dbms ?? "").toLowerCase() === dbms.toLowerCase()));
}

addCommands(
  command({
    words: ["get", "tables"],
    summary: "The tables of a database (or of all, dbms = *) that the metadata declares, and whether this node holds them",
    method: "GET",
    options: { dbms: { type: "str", help: "database, or * for all", required: true }, format },
    examples: ["get tables where dbms = test", "get tables where dbms = * and format = json"],
    async handler(ctx, args) {
      const policies = tablePolicies(ctx.node, args.str("dbms"));
      if (!policies.ok) return policies;
      const rows = [];
      for (const t of policies.value) {
        const dbms = String(t.dbms ?? "");
        const table = String(t.name ?? "");
        const db = ctx.node.databases.get(dbms);
        const here = db ? await db.tableExists(table) : undefined;
        rows.push({ dbms, table, local: here?.ok === true && here.value, declared: true });
      }
      rows.sort((a, b) => a.dbms.localeCompare(b.dbms) || a.table.localeCompare(b.table));
      if (asJson(args.str("format"))) return ok(rows);
      return ok(textTable(["Database", "Table name", "Local DBMS", "Blockchain"], rows.map((r) => [r.dbms, r.table, r.local ? "V" : "", "V"])));
    },
  }),
  command({
    words: ["get", "columns"],
    summary: "The columns of a table and their types, from its table policy",
    method: "GET",
    options: { dbms: { type: "str", help: "database", required: true }, table: { type: "str", help: "table", required: true }, format },
    examples: ["get columns where dbms = test and table = readings", "get columns where dbms = test and table = readings and format = json"],
    handler(ctx, args) {
      const dbms = args.str("dbms", "");
      const table = args.str("table", "").toLowerCase();
      const local = ctx.node.metadata.local();
      if (!local.ok) return local;
      const policy = tablePolicy(local.value, dbms, table);
      if (!policy) return fail("not_found", `the metadata has no table policy for ${dbms}.${table}`);
      const columns = columnsOfCreate(String(policy.create ?? ""));
      if (asJson(args.str("format"))) return ok(Object.fromEntries(columns));
      return ok(textTable(["Column", "Type"], columns));
    },
  }),
  command({
    words: ["get", "data", "nodes"],
    summary: "Which operators hold which tables (from the table, cluster and operator policies)",
    method: "GET",
    options: { dbms: { type: "str", help: "only this database" }, table: { type: "str", help: "only this table" }, format },
    examples: ["get data nodes", "get data nodes where dbms = test and table = readings and format = json"],
    handler(ctx, args) {
      const policies = tablePolicies(ctx.node, args.str("dbms"));
      if (!policies.ok) return policies;
      const wanted = args.str("table")?.toLowerCase();
      const local = ctx.node.metadata.local();
      if (!local.ok) return local;
      const names = new Map(local.value.select(["operator"], []).map((p) => [ipPort(p) ?? "", String(body(p).name ?? "")]));
      const rows = [];
      for (const t of policies.value) {
        const dbms = String(t.dbms ?? "");
        const table = String(t.name ?? "");
        if (wanted && table.toLowerCase() !== wanted) continue;
        const groups = dataGroups(ctx.node, dbms, table);
        for (const g of groups.ok ? groups.value : []) {
          for (const member of g.members) rows.push({ dbms, table, cluster: g.cluster ?? "", operator: names.get(member) ?? "", address: member });
        }
      }
      if (asJson(args.str("format"))) return ok(rows);
      return ok(textTable(["DBMS", "Table", "Cluster ID", "Operator", "IP:Port"], rows.map((r) => [r.dbms, r.table, r.cluster, r.operator, r.address])));
    },
  }),
  command({
    words: ["test", "network"],
    summary: "Whether every node the metadata names answers on its TCP address (get status), with the time it took",
    method: "GET",
    options: { format, timeout: { type: "int", help: "seconds to wait for each node" } },
    examples: ["test network", "test network where format = json and timeout = 5"],
    async handler(ctx, args) {
      const local = ctx.node.metadata.local();
      if (!local.ok) return local;
      const nodes = local.value
        .select(["*"], [])
        .filter((p) => ["master", "operator", "publisher", "query"].includes(policyType(p)))
        .flatMap((p) => {
          const address = ipPort(p);
          return address ? [{ type: policyType(p), name: String(body(p).name ?? ""), address }] : [];
        });
      if (nodes.length === 0) return fail("not_found", "the metadata names no node (master, operator, publisher or query policies) to test");
      const timeout = (args.int("timeout") ?? 0) > 0 ? args.int("timeout")! * 1000 : peerTimeoutMs(ctx.node);
      const from = `${ctx.node.name}@${ctx.node.dictionary.lookup("ip") ?? ""}`;
      const rows = await Promise.all(
        nodes.map(async (n) => {
          const t0 = performance.now();
          const r = await ctx.node.peers.request(n.address, { command: "get status", from }, timeout);
          const ms = Math.round(performance.now() - t0);
          const reachable = r.ok && r.value.ok;
          return { ...n, reachable, ms, error: reachable ? "" : r.ok ? (r.value.ok ? "" : r.value.message) : r.error.message };
        }),
      );
      if (asJson(args.str("format"))) return ok(rows);
      return ok(textTable(["Address", "Node Type", "Node Name", "Status", "ms", "Error"], rows.map((r) => [r.address, r.type, r.name, r.reachable ? "+" : "down", r.ms, r.error])));
    },
  }),
  command({
    words: ["test", "node"],
    summary: "Whether this node answers on its own TCP and REST addresses and reads its metadata",
    method: "GET",
    options: { format },
    examples: ["test node", "test node where format = json"],
    async handler(ctx, args) {
      const node = ctx.node;
      const checks: Array<{ test: string; ok: boolean; details: string }> = [];
      const tcp = node.processes.get("TCP")?.info().external;
      if (typeof tcp !== "string") checks.push({ test: "TCP server", ok: false, details: "not running ('run tcp server')" });
      else {
        const r = await node.peers.request(tcp, { command: "get node name", from: node.name }, 5_000);
        checks.push({ test: "TCP server", ok: r.ok && r.value.ok, details: r.ok ? (r.value.ok ? `${tcp} answered` : r.value.message) : r.error.message });
      }
      const rest = node.processes.get("REST")?.info().listening;
      if (typeof rest !== "string") checks.push({ test: "REST server", ok: false, details: "not running ('run rest server')" });
      else {
        const host = rest.startsWith("0.0.0.0:") ? `127.0.0.1:${rest.slice(8)}` : rest;
        try {
          const r = await fetch(`http://${host}/health`, { signal: AbortSignal.timeout(5_000) });
          checks.push({ test: "REST server", ok: r.ok, details: `${host}/health: ${r.status}` });
        } catch (e) {
          checks.push({ test: "REST server", ok: false, details: `${host}/health: ${e instanceof Error ? e.message : String(e)}` });
        }
      }
      const local = node.metadata.local();
      checks.push({ test: "Metadata", ok: local.ok, details: local.ok ? `${local.value.select(["*"], []).length} policies in the local copy` : local.error.message });
      if (asJson(args.str("format"))) return ok(checks);
      return ok(textTable(["Test", "Status", "Details"], checks.map((c) => [c.test, c.ok ? "+" : "failed", c.details])));
    },
  }),
);
