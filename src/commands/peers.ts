/**
 * @module commands/peers
 * `run client (ip:port, ...) <command>`: runs a command on other nodes over the peer protocol.
 */
import { parseDestinations, runOnPeers } from "../network/peers.ts";
import { command } from "./spec.ts";
import { addCommand } from "./table.ts";

addCommand(
  command({
    words: ["run", "client"],
    summary: "Runs a command on other nodes and returns their replies",
    method: "of-tail",
    positional: [{ name: "destination", type: "list", help: "(ip:port, ip:port) or ip:port" }],
    tail: { name: "command", help: "the command to run on the peers", required: true, substitute: true },
    examples: ["run client (10.0.0.7:32148) get status", "run client (10.0.0.7:32148, 10.0.0.8:32148) get processes"],
    async handler(ctx, args) {
      const peers = parseDestinations(args.list("destination"));
      if (!peers.ok) return peers;
      return runOnPeers(ctx.node, peers.value, args.tail ?? "");
    },
  }),
);
