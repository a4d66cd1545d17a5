/**
 * @module commands/dictionary
 * The dictionary from the command line: `get dictionary`, `set <key> = <value>`, `echo`.
 * (`key = value` without `set` is an assignment statement of the language itself.)
 */
import { substituteOutsideQuotes } from "../language/bind.ts";
import { SECRET_NAME, maskedScope, scopeOf } from "../language/scope.ts";
import { redact } from "../util/log.ts";
import { fail, ok } from "../util/result.ts";
import { textTable } from "../util/text-table.ts";
import { command } from "./spec.ts";
import { addCommands } from "./table.ts";


addCommands(
  command({
    words: ["get", "dictionary"],
    summary: "The dictionary: every key and its value (secrets masked)",
    method: "GET",
    options: { format: { type: "str", help: "json for one JSON object of key to value" } },
    examples: ["get dictionary", "get dictionary where format = json"],
    handler(ctx, args) {
      const entries = ctx.node.dictionary.entries().map(([k, v]) => [k, SECRET_NAME.test(k) ? "***" : redact(v)] as [string, string]);
      if (args.str("format") === "json") return ok(Object.fromEntries(entries));
      return ok(textTable(["Key", "Value"], entries));
    },
  }),
  command({
    words: ["set"],
    summary: "Sets a dictionary value: set <key> = <value>",
    method: "POST",
    tail: { name: "assignment", help: "<key> = <value>", required: true, substitute: true },
    examples: ["set node_name = edge-7", "set sync_time = 30 seconds"],
    handler(ctx, args) {
      const m = /^([A-Za-z_][\w.]*)\s*=\s*(.*)$/s.exec(args.tail ?? "");
      if (!m) return fail("syntax", "usage: set <key> = <value>");
      let value = m[2]!.trim();
      if (/^(["']).*\1$/s.test(value)) value = value.slice(1, -1);
      ctx.node.dictionary.set(m[1]!, value);
      return ok(undefined);
    },
  }),
  command({
    words: ["echo"],
    summary: "Prints its text (with !values replaced; secrets shown as ***)",
    method: "GET",
    tail: { name: "text", help: "the text to print", substitute: false },
    handler(ctx, args) {
      const text = substituteOutsideQuotes(args.tail ?? "", maskedScope(scopeOf(ctx)));
      return text.ok ? ok(redact(text.value)) : text;
    },
  }),
);
