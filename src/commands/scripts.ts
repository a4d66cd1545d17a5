/**
 * @module commands/scripts
 * `process <file>`: runs a script file on this node, line by line, as a start-up script does.
 */
import { fail, ok } from "../util/result.ts";
import { command } from "./spec.ts";
import { addCommand } from "./table.ts";

addCommand(
  command({
    words: ["process"],
    peer: false,
    paths: ["file"],
    summary: "Runs the commands of a script file",
    method: "POST",
    positional: [{ name: "file", type: "str", help: "path of the script (may use !values)" }],
    examples: ["process !anylog_path/scripts/start.al"],
    async handler(ctx, args) {
      const file = args.str("file", "");
      const errors: string[] = [];
      const report = await ctx.node.runScriptFile(file, { ...ctx, source: "script", session: { noteFiring: ctx.session.noteFiring } }, (where, message) => {
        errors.push(`${where}: ${message}`);
        ctx.out(`Error: ${where}: ${message}`);
      });
      if (!report.ok) return report;
      if (report.value.ended === "error") return fail("bad_value", `script stopped on error: ${errors[errors.length - 1]}`);
      return ok(`${file}: ${report.value.statements} statements, ${report.value.errors} errors`);
    },
  }),
);
