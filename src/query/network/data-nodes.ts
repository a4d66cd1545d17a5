/**
 * @module query/network/data-nodes
 * Which operators hold a table, from the metadata: the table must have its `table` policy;
 * the clusters that hold it are those whose `table` list names it, else those whose `dbms`
 * is its database, else those that name neither; their operators are grouped by cluster (an
 * operator with no cluster is a group of its own). A query asks one member of each group:
 * the members of a cluster hold the same data (HA), so fail-over among them goes here.
 * Also the columns a table policy declares (its CREATE statement), in their order.
 */
import type { Node } from "../../node/node.ts";
import { ipPort } from "../../metadata/bring.ts";
import { type PolicyBody, body } from "../../metadata/policy.ts";
import type { LocalCopy } from "../../metadata/local-copy.ts";
import { type Result, fail, ok } from "../../util/result.ts";

export interface DataGroup {
  /** The cluster's id, or undefined for an operator with no cluster. */
  cluster?: string;
  /** Operator addresses (ip:port), in ledger order. */
  members: string[];
}

const same = (a: unknown, b: string) => typeof a === "string" && a.toLowerCase() === b.toLowerCase();

/** Whether a cluster policy holds dbms.table. */
function holds(cluster: PolicyBody, dbms: string, table: string): boolean {
  const tables = cluster.table;
  if (Array.isArray(tables)) {
    return tables.some((t) => typeof t === "object" && t !== null && same((t as PolicyBody).dbms, dbms) && same((t as PolicyBody).name, table));
  }
  return cluster.dbms === undefined || same(cluster.dbms, dbms);
}

/** The groups of operators that hold dbms.table; an error naming it when no one does. */
export function dataGroups(node: Node, dbms: string, table: string): Result<DataGroup[]> {
  const local = node.metadata.local();
  if (!local.ok) return local;
  const copy = local.value;
  if (!tablePolicy(copy, dbms, table)) {
    return fail("not_found", `no operator holds ${dbms}.${table}: the metadata has no table policy for it (is data stored there, and the metadata synced?)`);
  }
  const clusters = new Set(
    copy
      .select(["cluster"], [])
      .map(body)
      .filter((c) => typeof c.id === "string" && holds(c, dbms, table))
      .map((c) => c.id as string),
  );
  const groups = new Map<string, DataGroup>();
  const alone: DataGroup[] = [];
  for (const p of copy.select(["operator"], [])) {
    const address = ipPort(p);
    if (!address) continue;
    const cluster = body(p).cluster;
    if (typeof cluster !== "string" || cluster === "") {
      alone.push({ members: [address] });
      continue;
    }
    if (!clusters.has(cluster)) continue;
    const g = groups.get(cluster) ?? { cluster, members: [] };
    if (!g.members.includes(address)) g.members.push(address);
    groups.set(cluster, g);
  }
  const all = [...groups.values(), ...alone];
  if (all.length === 0) return fail("not_found", `no operator holds ${dbms}.${table}: no operator policy belongs to a cluster that holds it`);
  return ok(all);
}

/** `name TYPE` pairs of a CREATE TABLE statement, in order (a table policy's `create`). */
export function columnsOfCreate(create: string): Array<[name: string, type: string]> {
  const open = create.indexOf("(");
  const close = create.lastIndexOf(")");
  if (open < 0 || close <= open) return [];
  const parts: string[] = [];
  let depth = 0;
  let from = open + 1;
  for (let i = open + 1; i < close; i++) {
    const c = create[i];
    if (c === "(") depth++;
    else if (c === ")") depth--;
    else if (c === "," && depth === 0) {
      parts.push(create.slice(from, i));
      from = i + 1;
    }
  }
  parts.push(create.slice(from, close));
  return parts.flatMap((p) => {
    const m = /^\s*("(?:[^"]|"")+"|\S+)\s+(.*?)\s*$/s.exec(p);
    if (!m || /^(primary|unique|foreign|check|constraint)\b/i.test(m[1]!)) return [];
    const name = m[1]!.startsWith('"') ? m[1]!.slice(1, -1).replaceAll('""', '"') : m[1]!;
    const type = /^\S+(?:\s*\([^)]*\))?/.exec(m[2]!)?.[0] ?? m[2]!;
    return [[name, type.toLowerCase()] as [string, string]];
  });
}

/** The `table` policy of dbms.table in a local copy of the metadata. */
export function tablePolicy(copy: LocalCopy, dbms: string, table: string): PolicyBody | undefined {
  return copy.select(["table"], []).map(body).find((t) => same(t.dbms, dbms) && same(t.name, table));
}

/** The columns of dbms.table with their types, in its table policy's order (empty when it has none). */
function policyColumns(node: Node, dbms: string, table: string): Array<[name: string, type: string]> {
  const local = node.metadata.local();
  const policy = local.ok ? tablePolicy(local.value, dbms, table) : undefined;
  return policy ? columnsOfCreate(String(policy.create ?? "")) : [];
}

/** The columns of dbms.table in its table policy's order (empty when it has none). */
export function tableColumns(node: Node, dbms: string, table: string): string[] {
  return policyColumns(node, dbms, table).map(([name]) => name);
}

/** Types whose values sort alike on SQLite and PostgreSQL (text does not: collations differ). */
const SORTS_ALIKE = /^(int|integer|bigint|smallint|float|double|real|numeric|decimal|timestamp|date)\b/i;

/** The columns of dbms.table that its policy declares floating point (a whole 3.0 in them is still a float). */
export function floatColumns(node: Node, dbms: string, table: string): string[] {
  return policyColumns(node, dbms, table)
    .filter(([, type]) => /^(float|double|real)\b/i.test(type.trim()))
    .map(([name]) => name);
}

/** The columns of dbms.table, by its policy, that sort alike on every engine. */
export function orderedColumns(node: Node, dbms: string, table: string): string[] {
  return policyColumns(node, dbms, table)
    .filter(([, type]) => SORTS_ALIKE.test(type.trim()))
    .map(([name]) => name);
}
