/**
 * @module commands/help
 * `help` and `help <command>`, rendered from the command table (no help text is written twice).
 */
import { fail, ok } from "../util/result.ts";
import type { CommandSpec, OptionTable } from "./spec.ts";
import { command } from "./spec.ts";
import { addCommand, allCommands, findCommand, suggestCommands } from "./table.ts";

/** One-line usage: words, positionals, `where` options, tail. */
export function usage(spec: CommandSpec): string {
  const parts = [...spec.words];
  for (const p of spec.positional ?? []) {
    const arg = `${p.after ? `${p.after} ` : ""}<${p.name}>`;
    parts.push(p.optional ? `[${arg}]` : arg);
  }
  const opts = Object.keys(spec.options ?? {});
  if (opts.length > 0 || spec.anyOption) {
    const list = opts.map((k) => `${k} = <${spec.options![k]!.type}>`).join(" and ");
    parts.push(`${spec.bareOptions ? "" : "where "}${list || "<key> = <value> and ..."}`.trim());
  }
  if (spec.tail) parts.push(`${spec.tail.keyword ? `${spec.tail.keyword} ` : ""}<${spec.tail.name}>`);
  return parts.join(" ");
}

function optionLines(options: OptionTable, indent: string): string[] {
  const lines: string[] = [];
  for (const [k, o] of Object.entries(options)) {
    const flags = [o.type, o.required ? "required" : "", o.multiple ? "repeatable" : ""].filter(Boolean).join(", ");
    lines.push(`${indent}${k.padEnd(18)} (${flags}) ${o.help}`);
    if (o.options) lines.push(...optionLines(o.options, `${indent}    `));
  }
  return lines;
}

function describe(spec: CommandSpec): string {
  const lines = [`${spec.words.join(" ")}: ${spec.summary}`, `Usage: ${usage(spec)}`];
  lines.push(`REST: ${spec.method === "of-tail" ? "the method of the command it carries" : spec.method}`);
  if (spec.positional?.length) {
    lines.push("Arguments:");
    for (const p of spec.positional) lines.push(`    <${p.name}>${" ".repeat(Math.max(1, 16 - p.name.length))}(${p.type}${p.optional ? ", optional" : ""}) ${p.help}`);
  }
  if (spec.options && Object.keys(spec.options).length > 0) lines.push("Options:", ...optionLines(spec.options, "    "));
  if (spec.tail) lines.push(`Then: ${spec.tail.keyword ? `${spec.tail.keyword} ` : ""}<${spec.tail.name}>: ${spec.tail.help}`);
  if (spec.examples?.length) lines.push("Examples:", ...spec.examples.map((e) => `    ${e}`));
  return lines.join("\n");
}

addCommand(
  command({
    words: ["help"],
    summary: "Lists the commands, or explains one: help <command>",
    method: "GET",
    tail: { name: "command", help: "the words of a command", substitute: false },
    examples: ["help", "help run tcp server"],
    handler(_ctx, args) {
      const topic = (args.tail ?? "").trim().toLowerCase();
      if (topic === "") {
        const specs = allCommands();
        const width = Math.max(...specs.map((s) => s.words.join(" ").length));
        return ok(specs.map((s) => `${s.words.join(" ").padEnd(width)}  ${s.summary}`).join("\n"));
      }
      const words = topic.split(/\s+/);
      const found = findCommand(words);
      if (found && found.used === words.length) return ok(describe(found.spec));
      const near = suggestCommands(words);
      return fail("unknown_command", `no command '${topic}'${near.length ? `; did you mean: ${near.join(", ")}?` : ""}`);
    },
  }),
);
