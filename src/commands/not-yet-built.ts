/**
 * @module commands/not-yet-built
 * Commands of the seeds whose parts this build does not have yet (metadata, storage,
 * operator). They are declared with their real arguments, so scripts parse and `help`
 * documents them; running one answers that it is not in this build. Each moves to the
 * module of its part when that part is built, and leaves this list.
 */
import { fail } from "../util/result.ts";
import type { CommandSpec } from "./spec.ts";
import { addCommand } from "./table.ts";

const OPERATOR = "the operator issue, #4";

function later(spec: Omit<CommandSpec, "handler">, comesWith: string): void {
  addCommand({
    ...spec,
    handler: () => fail("unavailable", `'${spec.words.join(" ")}' is not in this build yet (${comesWith})`),
  });
}

later(
  {
    words: ["sql"],
    summary: 'Runs a query: sql <dbms> [format = json|table and stat = false] "select ..."',
    method: "GET",
    positional: [{ name: "dbms", type: "str", help: "database" }],
    bareOptions: true,
    options: {
      format: { type: "str", help: "json or table" },
      stat: { type: "bool", help: "include Statistics" },
      timezone: { type: "str", help: "time zone of returned times" },
      include: { type: "list", help: "more tables to query" },
      extend: { type: "list", help: "node fields to add to each row" },
      dest: { type: "str", help: "stdout, rest or a file" },
    },
    tail: { name: "query", help: "the SQL statement, in quotes", required: true, substitute: true },
  },
  OPERATOR,
);
