/**
 * @module commands/trace
 * `trace level = N <process>`: log what a process receives (1: each request, 2: with its
 * headers and body), e.g. `trace level = 1 run rest server`; `trace level = 0 ...` stops it.
 */
import { traceLevels } from "../node/trace.ts";
import { fail, ok } from "../util/result.ts";
import { command } from "./spec.ts";
import { addCommand } from "./table.ts";

addCommand(
  command({
    words: ["trace", "level"],
    peer: false,
    summary: "Logs the requests a process receives: trace level = <0|1|2> <process>",
    method: "POST",
    tail: { name: "level and process", help: "= <level> <process>, e.g. = 1 run rest server", required: true, substitute: true },
    examples: ["trace level = 1 run rest server", "trace level = 2 run tcp server", "trace level = 0 run rest server"],
    handler(ctx, args) {
      const m = /^=\s*(\d)\s+(?:run\s+)?(.+)$/i.exec((args.tail ?? "").trim());
      if (!m) return fail("syntax", "usage: trace level = <0|1|2> <process>, e.g. trace level = 1 run rest server");
      const found = ctx.node.processes.find(m[2]!);
      if (!found) return fail("not_found", `no process '${m[2]}' to trace; 'get processes' lists them`);
      const level = Number(m[1]);
      if (level === 0) traceLevels(ctx.node).delete(found.def.name);
      else traceLevels(ctx.node).set(found.def.name, level);
      return ok(`trace level of ${found.def.name} is ${level}`);
    },
  }),
);
