/**
 * @module commands/peers
 * `run client (<where>) <command>`: runs a command on other nodes over the peer protocol.
 * Inside the parentheses: ip:port addresses, `blockchain get ... bring.ip_port` commands whose
 * answer is addresses, `subset = true` and `timeout = <seconds>`; empty (or `network`) means
 * the nodes the metadata says hold the data. A command that declares a network hook (`sql`)
 * asks the peers itself and merges their replies; any other comes back by peer.
 */
import { parseDuration, toBool } from "../language/bind.ts";
import { parseDestinations, peerTimeoutMs, sendAcross } from "../network/peers.ts";
import { type Result, fail, ok } from "../util/result.ts";
import type { CommandContext } from "./context.ts";
import { type NetworkTarget, command } from "./spec.ts";
import { addCommand } from "./table.ts";

/** The target of `run client (...)` from the items in its parentheses. */
async function targetOf(ctx: CommandContext, items: string[]): Promise<Result<NetworkTarget>> {
  const target: NetworkTarget = { subset: false, timeoutMs: peerTimeoutMs(ctx.node) };
  const addresses: string[] = [];
  for (const item of items.map((i) => i.trim())) {
    if (item === "" || item.toLowerCase() === "network") continue;
    if (/^blockchain\s/i.test(item)) {
      const found = await ctx.node.execute(item, ctx);
      if (!found.ok) return found;
      const reply = found.value;
      const list = Array.isArray(reply) ? reply.map(String) : typeof reply === "string" ? reply.split(/[\s,]+/) : [];
      if (list.filter((a) => a !== "").length === 0) return fail("not_found", `'${item}' found no node to send the command to`);
      addresses.push(...list);
      continue;
    }
    if (!item.includes("=")) {
      addresses.push(item);
      continue;
    }
    for (const part of item.split(/\s+and\s+/i)) {
      const m = /^(\w+)\s*=\s*(.+)$/.exec(part.trim());
      const key = m?.[1]?.toLowerCase();
      const value = m?.[2]?.trim() ?? "";
      if (key === "subset") {
        const b = toBool(value);
        if (b === undefined) return fail("bad_option", `run client: subset = ${value} is not true or false`);
        target.subset = b;
      } else if (key === "timeout") {
        const seconds = parseDuration(value);
        if (seconds === undefined || seconds <= 0) return fail("bad_option", `run client: timeout = ${value} is not a number of seconds`);
        target.timeoutMs = seconds * 1000;
      } else return fail("bad_option", `run client: '${part.trim()}' is not an address (ip:port) or an option (subset = true, timeout = <seconds>)`);
    }
  }
  const peers = parseDestinations(addresses);
  if (!peers.ok) return peers;
  if (peers.value.length > 0) target.peers = peers.value;
  return ok(target);
}

addCommand(
  command({
    words: ["run", "client"],
    summary: "Runs a command on other nodes: the ones named, or those that hold the data; a query's replies are merged into one",
    method: "of-tail",
    waitsOnNetwork: true,
    positional: [{ name: "destination", type: "list", help: "(ip:port, ...), (blockchain get ... bring.ip_port), () for the network; with subset = true, timeout = <seconds>" }],
    tail: { name: "command", help: "the command to run on the peers", required: true, substitute: true },
    examples: [
      "run client (10.0.0.7:32148) get status",
      "run client (10.0.0.7:32148, 10.0.0.8:32148) get processes",
      'run client () sql test "select count(*) from readings"',
      'run client (subset = true and timeout = 10) sql test format = table "select device, avg(value) from readings group by device"',
      "run client (blockchain get operator bring.ip_port) get status",
    ],
    async handler(ctx, args) {
      const target = await targetOf(ctx, args.list("destination"));
      if (!target.ok) return target;
      return sendAcross(ctx, args.tail ?? "", target.value);
    },
  }),
);
