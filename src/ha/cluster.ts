/**
 * @module ha/cluster
 * This operator's place in its cluster, from the metadata: its own operator policy (the
 * `policy` id `run operator` was given, else the operator policy at this node's TCP
 * address), its cluster, and the other operators of that cluster — the members it pushes
 * its data to and pulls missing data from. A member is known by its address and its member
 * id: the policy's `member` when the master gave one, else a number derived from the
 * policy's id, the same on every node.
 */
import type { Node } from "../node/node.ts";
import { ipPort } from "../metadata/bring.ts";
import { type Policy, body } from "../metadata/policy.ts";
import { type Result, fail, ok } from "../util/result.ts";

export interface Member {
  /** ip:port of its TCP server. */
  address: string;
  /** Its member id (tsd_<member> names what came from it). */
  member: number;
  name: string;
  policyId: string;
}

export interface ClusterView {
  clusterId: string;
  me: Member;
  /** The other operators of the cluster. */
  peers: Member[];
}

/** A policy's member id: its `member`, else derived from its id (the same on every node). */
export function memberOf(p: Policy): number {
  const b = body(p);
  const given = Number(b.member);
  if (Number.isInteger(given) && given > 0) return given;
  const id = String(b.id ?? "");
  return (Number.parseInt(id.slice(0, 8) || "0", 16) % 999_999) + 1;
}

const asMember = (p: Policy): Member | undefined => {
  const address = ipPort(p);
  const b = body(p);
  return address ? { address, member: memberOf(p), name: String(b.name ?? ""), policyId: String(b.id ?? "") } : undefined;
};

/** This node's TCP address as peers reach it (the TCP server's external ip:port). */
export function ownAddress(node: Node): string | undefined {
  const external = node.processes.get("TCP")?.info().external;
  return typeof external === "string" ? external : undefined;
}

/** The operator policy id `run operator ... policy = ...` was given, if any. */
function operatorPolicyId(node: Node): string | undefined {
  const policy = node.processes.get("Operator")?.info().policy;
  return typeof policy === "string" && policy !== "" ? policy : undefined;
}

/** This operator's cluster and its other members; an error that says what the metadata lacks. */
export function clusterView(node: Node, clusterId?: string): Result<ClusterView> {
  const local = node.metadata.local();
  if (!local.ok) return local;
  const operators = local.value.select(["operator"], []);
  const wanted = operatorPolicyId(node);
  const address = ownAddress(node);
  const mine = wanted ? operators.find((p) => body(p).id === wanted) : operators.find((p) => address !== undefined && ipPort(p) === address);
  if (!mine) {
    return fail(
      "not_found",
      wanted ? `the operator policy '${wanted}' is not in this node's metadata (is the metadata synced?)` : `no operator policy has this node's address ${address ?? "(no TCP server)"}: declare one, or give 'run operator ... policy = <id>'`,
    );
  }
  const cluster = clusterId ?? (typeof body(mine).cluster === "string" ? String(body(mine).cluster) : "");
  if (!cluster) return fail("not_found", `the operator policy '${String(body(mine).id)}' names no cluster: HA needs the operators of a cluster`);
  const me = asMember(mine);
  if (!me) return fail("bad_value", `the operator policy '${String(body(mine).id)}' has no ip and port`);
  const peers = operators
    .filter((p) => p !== mine && body(p).cluster === cluster)
    .map(asMember)
    .filter((m): m is Member => m !== undefined && m.address !== me.address);
  return ok({ clusterId: cluster, me, peers });
}
