/**
 * @module query/commands
 * Queries from the command line: `sql <dbms> [options] "select ..."` answered on this node
 * (read-only, AnyLog's reply shapes) or, sent across the network, by every operator that
 * holds the table and merged (query/network); and `get rows count`. Both only read: GET.
 */
import { command } from "../commands/spec.ts";
import { unescape } from "../language/tokens.ts";
import { addCommands } from "../commands/table.ts";
import { fail, ok } from "../util/result.ts";
import { textTable } from "../util/text-table.ts";
import { FORMATS, formatOf, queryReply } from "./reply.ts";
import { rowsCount } from "./rows-count.ts";
import { runLocalQuery } from "./run.ts";
import { parseVolume } from "../util/volume.ts";
import { runLocalTimeSql, runNetworkSql, usesTimeFunctions } from "./network/run.ts";

/** The query text without the quotes around it (`\"` inside stands for `"`: "select \"order\" from t"). */
function unquote(text: string): string {
  const t = text.trim();
  return t.length >= 2 && (t[0] === '"' || t[0] === "'") && t.endsWith(t[0]) ? unescape(t.slice(1, -1), t[0]) : t;
}

addCommands(
  command({
    words: ["sql"],
    summary: 'Runs a query on this node: sql <dbms> [format = json|table and stat = false] "select ..."',
    method: "GET",
    positional: [{ name: "dbms", type: "str", help: "database" }],
    bareOptions: true,
    options: {
      format: { type: "str", help: FORMATS.join(", ") },
      stat: { type: "bool", help: "include Statistics (true by default)" },
      timezone: { type: "str", help: "zone of returned times: utc, local (default), pt, mt, ct, et or a tz name" },
      include: { type: "list", help: "more tables to query (network queries)" },
      extend: { type: "list", help: "node values added to each row: @ip, @port, @dbms, @table, @node_name, !key" },
      dest: { type: "str", help: "stdout or rest (the reply)" },
      max_time: { type: "duration", help: "stop the query after this long (default 20 seconds)" },
      max_volume: { type: "str", help: "refuse a result larger than this (e.g. 10MB; default 64MB)" },
      planned: { type: "bool", help: "the query is this operator's part of a network query: run as written (increments(...) as bucket numbers)" },
    },
    tail: { name: "query", help: "the SQL statement, in quotes", required: true, substitute: true },
    examples: [
      'sql test "select count(*), sum(value) from readings"',
      'sql test format = table and stat = false "select * from readings limit 10"',
      'sql test timezone = utc and extend = (@ip, @dbms) "select max(insert_timestamp) from readings"',
    ],
    async handler(ctx, args) {
      const format = formatOf(args.str("format"));
      if (!format.ok) return format;
      if (args.list("include").length > 0) {
        return fail("unavailable", "'include' merges tables of other nodes (run client ...), which this build does not have; query each table with its own 'sql'");
      }
      const dest = (args.str("dest") ?? "stdout").toLowerCase();
      if (dest !== "stdout" && dest !== "rest") return fail("unavailable", `dest = ${dest} is not in this build: the reply is the query's output (stdout, rest)`);
      const query = unquote(args.tail ?? "");
      // AnyLog's time functions group and filter across rows: planned and merged as a network query of one node
      if (!args.bool("planned", false) && usesTimeFunctions(query)) return runLocalTimeSql(ctx, args, query);
      const volume = args.has("max_volume") ? parseVolume(args.str("max_volume", "")) : undefined;
      if (volume && !volume.ok) return volume;
      const answer = await runLocalQuery(ctx.node, {
        maxTime: args.int("max_time"),
        maxVolume: volume?.value,
        dbms: args.str("dbms", ""),
        sql: query,
        timezone: args.str("timezone"),
        extend: args.list("extend"),
        stream: ctx.stream,
        signal: ctx.signal,
      });
      if (!answer.ok) return answer;
      return ok(queryReply(answer.value, format.value, args.bool("stat", true)));
    },
    network: (ctx, args, target) => runNetworkSql(ctx, args, unquote(args.tail ?? ""), target),
  }),
  command({
    words: ["get", "rows", "count"],
    summary: "Rows in the tables of the connected databases (this node only)",
    method: "GET",
    options: {
      dbms: { type: "str", help: "only this database" },
      table: { type: "str", help: "only this table (with its partitions)" },
      format: { type: "str", help: "table (default) or json" },
      group: { type: "str", help: "partition (default: each physical table) or table (partitions summed)" },
    },
    examples: ["get rows count", "get rows count where dbms = test and format = json", "get rows count where dbms = test and table = readings and group = table"],
    async handler(ctx, args) {
      const format = (args.str("format") ?? "table").toLowerCase();
      if (format !== "table" && format !== "json") return fail("bad_option", `format '${args.str("format")}' is not table or json`);
      const counts = await rowsCount(ctx.node, { dbms: args.str("dbms"), table: args.str("table"), group: args.str("group") });
      if (!counts.ok) return counts;
      if (format === "json") return ok(counts.value);
      return ok(textTable(["DBMS", "Table", "Rows"], counts.value.map((c) => [c.dbms, c.table, c.rows])));
    },
  }),
);
