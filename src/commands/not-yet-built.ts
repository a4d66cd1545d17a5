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
    words: ["partition"],
    summary: "Stores a table as time partitions: partition <dbms> <table|*> using <column> by <n> <unit>",
    method: "POST",
    positional: [
      { name: "dbms", type: "str", help: "database" },
      { name: "table", type: "str", help: "table or *" },
      { name: "column", type: "str", help: "the time column", after: "using" },
      { name: "interval", type: "str", help: "partition size, e.g. 1 day", after: "by", rest: true },
    ],
  },
  OPERATOR,
);
later(
  {
    words: ["drop", "partition"],
    summary: "Drops the oldest partitions, keeping the newest N",
    method: "POST",
    options: {
      dbms: { type: "str", help: "database", required: true },
      table: { type: "str", help: "table", required: true },
      keep: { type: "int", help: "partitions to keep" },
    },
  },
  OPERATOR,
);
later(
  {
    words: ["schedule"],
    summary: "Adds a task to the scheduler: schedule time = ... and name = ... task <command>",
    method: "POST",
    bareOptions: true,
    options: {
      time: { type: "duration", help: "how often", required: true },
      name: { type: "str", help: "task name" },
      start: { type: "str", help: "first run (date or +time)" },
    },
    tail: { name: "command", keyword: "task", help: "the command to run", required: true, substitute: false },
  },
  OPERATOR,
);
later(
  {
    words: ["set", "buffer", "threshold"],
    summary: "When streaming buffers are written: by time, by volume, or at once",
    method: "POST",
    options: {
      time: { type: "duration", help: "flush after this long" },
      volume: { type: "str", help: "flush at this size (e.g. 10KB)" },
      dbms: { type: "str", help: "only this database" },
      table: { type: "str", help: "only this table" },
      write_immediate: { type: "bool", help: "write every row at once" },
    },
  },
  OPERATOR,
);
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
