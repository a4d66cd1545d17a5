/**
 * @module network/peers
 * Running a command on other nodes: send it to each peer at once, gather the replies, name
 * every peer that failed; or, for a command with a network hook, let it do so. Used by
 * `run client (...)`, which the REST `destination` header becomes.
 */
import type { CommandContext } from "../commands/context.ts";
import type { NetworkTarget, Reply } from "../commands/spec.ts";
import { bindCall } from "../language/bind.ts";
import { parseStatement } from "../language/parser.ts";
import type { Node } from "../node/node.ts";
import { type Result, fail, ok } from "../util/result.ts";
import { ipPort } from "../metadata/bring.ts";
import { splitAddress } from "./tcp-transport.ts";

/** Seconds to wait for a peer unless the dictionary's `peer_timeout` says otherwise. */
export const DEFAULT_PEER_TIMEOUT = 20;

export function peerTimeoutMs(node: Node): number {
  const v = Number(node.dictionary.lookup("peer_timeout"));
  return (Number.isFinite(v) && v > 0 ? v : DEFAULT_PEER_TIMEOUT) * 1000;
}

/** Parses a destination list: "ip:port, ip:port"; each entry must be an address. */
export function parseDestinations(items: string[]): Result<string[]> {
  const peers = items.flatMap((i) => i.split(",")).map((s) => s.trim()).filter((s) => s !== "");
  for (const p of peers) if (!splitAddress(p)) return fail("bad_value", `destination '${p}' is not ip:port`);
  return ok([...new Set(peers)]);
}

/** The network's data nodes, from the metadata: every operator policy's address. */
export function networkPeers(node: Node): Result<string[]> {
  const local = node.metadata.local();
  if (!local.ok) return local;
  const peers = local.value
    .select(["operator"], [])
    .map(ipPort)
    .filter((a): a is string => a !== undefined);
  if (peers.length === 0) return fail("not_found", "no destination: the metadata has no operator policies to send the command to; name peers as (ip:port, ...)");
  return ok([...new Set(peers)]);
}

/**
 * Sends a command across the network: a command with a network hook (`sql`) runs it (asking
 * the peers and merging their replies); any other runs on each peer (`runOnPeers`).
 */
export async function sendAcross(ctx: CommandContext, text: string, target: NetworkTarget): Promise<Result<Reply>> {
  const stmt = parseStatement(text);
  if (stmt.ok && stmt.value.kind === "command" && stmt.value.call.spec.network) {
    const args = bindCall(stmt.value.call, ctx.node.dictionary);
    if (!args.ok) return args;
    return stmt.value.call.spec.network(ctx, args.value, target);
  }
  return runOnPeers(ctx.node, target, text);
}

/**
 * Runs `command` on every peer (no peers: the network's operators, from the metadata). One peer: its reply, or an error naming it. Several: an
 * object of peer to reply, where a failed peer has `{ "error": ... }`; an error if all failed.
 */
export async function runOnPeers(node: Node, target: NetworkTarget, command: string): Promise<Result<Reply>> {
  let peers = target.peers ?? [];
  if (peers.length === 0) {
    const found = networkPeers(node);
    if (!found.ok) return found;
    peers = found.value;
  }
  const from = `${node.name}@${node.dictionary.lookup("ip") ?? ""}`;
  const timeout = target.timeoutMs;
  const answers = await Promise.all(peers.map((p) => node.peers.request(p, { command, from }, timeout)));
  const results = answers.map((a, i): { peer: string; reply?: Reply; error?: string } => {
    const peer = peers[i]!;
    if (!a.ok) return { peer, error: a.error.message };
    if (!a.value.ok) return { peer, error: `${peer} answered with an error: ${a.value.message}` };
    return { peer, reply: a.value.reply };
  });
  const failed = results.filter((r) => r.error !== undefined);
  if (failed.length === results.length) {
    const refused = answers.every((a) => a.ok && !a.value.ok && a.value.code === "forbidden");
    const code = answers.every((a) => !a.ok && a.error.code === "timeout") ? "timeout" : refused ? "forbidden" : "peer_failed";
    return fail(code, failed.map((f) => f.error).join("; "));
  }
  if (results.length === 1) return ok(results[0]!.reply);
  return ok(Object.fromEntries(results.map((r) => [r.peer, r.error !== undefined ? { error: r.error } : r.reply])));
}
