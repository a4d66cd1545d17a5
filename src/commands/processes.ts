/**
 * @module commands/processes
 * Background processes as a whole, all read from the registry: `get processes`,
 * `get <process>`, `exit <process>`, `exit node`.
 */
import { processDefinitions } from "../processes/registry.ts";
import { fail, ok } from "../util/result.ts";
import { closest } from "../util/similar.ts";
import { textTable } from "../util/text-table.ts";
import type { CommandContext } from "./context.ts";
import { command } from "./spec.ts";
import { addCommands, allCommands } from "./table.ts";

/** The process `name` names; else an error suggesting processes and `<verb> ...` commands. */
function findProcess(ctx: CommandContext, verb: "get" | "exit", name: string) {
  const found = ctx.node.processes.find(name);
  if (found) return { ok: true as const, value: found };
  const commands = allCommands().filter((c) => c.words[0] === verb && c.words.length > 1).map((c) => c.words.slice(1).join(" "));
  const near = closest(name, [...processDefinitions().flatMap((d) => d.aliases), ...commands], 3);
  const hint = near.length > 0 ? `; did you mean: ${near.map((n) => `${verb} ${n}`).join(", ")}?` : "; 'help' lists the commands";
  return fail("unknown_command", `unknown command '${verb} ${name}'${hint}`);
}

addCommands(
  command({
    words: ["get", "processes"],
    summary: "Every background process with its status and main settings",
    method: "GET",
    options: { format: { type: "str", help: "json for {process: {Status, Details}}" } },
    examples: ["get processes", "get processes where format = json"],
    handler(ctx, args) {
      const rows = ctx.node.processes.entries().map(([def, p]) => [def.name, p.status(), p.details()]);
      if (args.str("format") === "json") {
        return ok(Object.fromEntries(rows.map(([n, s, d]) => [n, { Status: s, Details: d }])));
      }
      return ok(textTable(["Process", "Status", "Details"], rows));
    },
  }),
  command({
    words: ["get"],
    summary: "The state of one background process: get operator, get synchronizer, get scheduler, ...",
    method: "GET",
    positional: [{ name: "process", type: "any", help: "a process name, as 'get processes' lists", rest: true }],
    handler(ctx, args) {
      const found = findProcess(ctx, "get", args.str("process", ""));
      if (!found.ok) return found;
      const { def, proc } = found.value;
      return ok({ process: def.name, status: proc.status(), ...proc.info() });
    },
  }),
  command({
    words: ["exit"],
    peer: false,
    summary: "Stops a background process: exit tcp, exit rest, exit operator, ...",
    method: "POST",
    positional: [{ name: "process", type: "any", help: "a process name, as 'get processes' lists", rest: true }],
    async handler(ctx, args) {
      const found = findProcess(ctx, "exit", args.str("process", ""));
      if (!found.ok) return found;
      const { def, proc } = found.value;
      if (proc.status() !== "Running") return fail("conflict", `${def.name} is not running`);
      await proc.stop();
      ctx.node.log.info(`${def.name} stopped by 'exit ${def.aliases[0]}'`);
      return ok(`${def.name} stopped`);
    },
  }),
  command({
    words: ["exit", "node"],
    peer: false,
    summary: "Stops every process cleanly and ends the node",
    method: "POST",
    handler(ctx) {
      // answer first, then stop: the reply must still reach a REST or peer caller
      setTimeout(() => void ctx.node.shutdown("exit node"), 50);
      return ok("node stopping");
    },
  }),
);
