/**
 * @module commands/status
 * The node's own state: `get status`, `get version`, `get hostname`, `get node name`.
 */
import { ok } from "../util/result.ts";
import { VERSION, COMMIT, TARGET, versionLine } from "../version.ts";
import { command } from "./spec.ts";
import { addCommands } from "./table.ts";

const format = { type: "str", help: "json for a JSON reply, text otherwise" } as const;

addCommands(
  command({
    words: ["get", "status"],
    summary: "Whether the node runs, with its name and address",
    method: "GET",
    options: { format },
    examples: ["get status", "get status where format = json"],
    handler(ctx, args) {
      const node = ctx.node;
      const tcp = node.processes.get("TCP")?.info();
      const address = typeof tcp?.external === "string" ? tcp.external : node.dictionary.lookup("ip");
      const running = node.processes.entries().filter(([, p]) => p.status() === "Running").map(([d]) => d.name);
      if (args.str("format") === "json") {
        return ok({
          status: node.isStopping ? "stopping" : "running",
          node_name: node.name,
          address,
          uptime_seconds: Math.round((Date.now() - node.startedAt.getTime()) / 1000),
          version: VERSION,
          processes: running,
        });
      }
      return ok(`'${node.name}@${address}' ${node.isStopping ? "stopping" : "running"}`);
    },
  }),
  command({
    words: ["get", "version"],
    summary: "The node's version, build target and commit",
    method: "GET",
    options: { format },
    handler: (_ctx, args) =>
      ok(args.str("format") === "json" ? { version: VERSION, target: TARGET, commit: COMMIT } : versionLine()),
  }),
  command({
    words: ["get", "hostname"],
    summary: "The host name of the machine",
    method: "GET",
    handler: (ctx) => ok(ctx.node.dictionary.lookup("hostname") ?? ""),
  }),
  command({
    words: ["get", "node", "name"],
    summary: "The node's name (node_name)",
    method: "GET",
    handler: (ctx) => ok(ctx.node.name),
  }),
);
