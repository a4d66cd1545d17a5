/**
 * @module ingest/commands
 * Data-storage settings from the command line: `partition`, `get partitions`,
 * `drop partition`, `set buffer threshold`, `flush buffers`.
 */
import { command } from "../commands/spec.ts";
import { addCommands } from "../commands/table.ts";
import type { Database } from "../storage/database.ts";
import { type Result, fail, ok } from "../util/result.ts";
import { textTable } from "../util/text-table.ts";
import { parseVolume, type Thresholds } from "./buffers.ts";
import { withTableLock } from "./ingest.ts";
import { dropPartitions, listPartitions, parseInterval } from "./partitions.ts";
import { forgetColumns } from "./table-writer.ts";

addCommands(
  command({
    words: ["partition"],
    summary: "Stores a table as time partitions: partition <dbms> <table|*> using <column> by <n> <unit>",
    method: "POST",
    positional: [
      { name: "dbms", type: "str", help: "database" },
      { name: "table", type: "str", help: "table, or * for every table of the dbms" },
      { name: "column", type: "str", help: "the time column", after: "using" },
      { name: "interval", type: "str", help: "partition size: 1 day, 12 hours, 1 month, ...", after: "by", rest: true },
    ],
    examples: ["partition test readings using timestamp by 1 day", "partition !default_dbms * using insert_timestamp by 1 month"],
    handler(ctx, args) {
      const interval = parseInterval(args.str("interval", ""));
      if (!interval.ok) return interval;
      const rule = { dbms: args.str("dbms", "").toLowerCase(), table: args.str("table", "").toLowerCase(), column: args.str("column", "").toLowerCase(), ...interval.value };
      ctx.node.partitions.set(rule);
      return ok(`${rule.dbms}.${rule.table} partitioned by ${rule.count} ${rule.unit} of ${rule.column}`);
    },
  }),
  command({
    words: ["get", "partitions"],
    summary: "The partition rules and the partitions each table has",
    method: "GET",
    options: { dbms: { type: "str", help: "only this database" }, format: { type: "str", help: "json" } },
    async handler(ctx, args) {
      const rows: Array<{ dbms: string; table: string; column: string; interval: string; partitions: string[] }> = [];
      for (const r of ctx.node.partitions.all()) {
        if (args.has("dbms") && r.dbms !== args.str("dbms")?.toLowerCase()) continue;
        const db = ctx.node.databases.get(r.dbms);
        const tables = r.table === "*" ? await partitionedTables(db) : ok([r.table]);
        for (const table of tables.ok ? tables.value : []) {
          const parts = db ? await listPartitions(db, table) : ok([]);
          rows.push({ dbms: r.dbms, table, column: r.column, interval: `${r.count} ${r.unit}`, partitions: parts.ok ? parts.value : [] });
        }
      }
      if (args.str("format") === "json") return ok(rows);
      return ok(textTable(["DBMS", "Table", "Column", "Interval", "Partitions"], rows.map((r) => [r.dbms, r.table, r.column, r.interval, r.partitions.join(", ")])));
    },
  }),
  command({
    words: ["drop", "partition"],
    summary: "Drops the oldest partitions of a table, keeping the newest N (without keep: the oldest, never the only one)",
    method: "POST",
    options: {
      dbms: { type: "str", help: "database", required: true },
      table: { type: "str", help: "table (or * for every partitioned table)", required: true },
      keep: { type: "int", help: "partitions to keep" },
    },
    examples: ["drop partition where dbms = test and table = readings and keep = 3"],
    async handler(ctx, args) {
      const db = ctx.node.databases.require(args.str("dbms", ""));
      if (!db.ok) return db;
      const keep = args.int("keep");
      if (keep !== undefined && keep < 1) return fail("bad_option", "'keep' must be 1 or more: the newest partition is never dropped");
      const table = args.str("table", "").toLowerCase();
      const tables = table === "*" ? await partitionedTables(db.value) : ok([table]);
      if (!tables.ok) return tables;
      const dropped: string[] = [];
      for (const t of tables.value) {
        // not while rows are written into the table; its dropped partitions leave the column cache
        const r = await withTableLock(ctx.node, db.value.name, t, async () => {
          const d = await dropPartitions(db.value, t, keep);
          if (d.ok && d.value.length > 0) forgetColumns(db.value);
          return d;
        });
        if (!r.ok) return r;
        dropped.push(...r.value);
      }
      return ok(dropped.length > 0 ? `dropped ${dropped.join(", ")}` : "nothing to drop");
    },
  }),
  command({
    words: ["set", "buffer", "threshold"],
    summary: "When streaming buffers are stored: after a time, at a volume, or at once",
    method: "POST",
    options: {
      time: { type: "duration", help: "store after this long (e.g. 30 seconds)" },
      volume: { type: "str", help: "store at this size (e.g. 10KB)" },
      dbms: { type: "str", help: "only this database" },
      table: { type: "str", help: "only this table" },
      write_immediate: { type: "bool", help: "store every PUT at once" },
    },
    examples: ["set buffer threshold where write_immediate = true", "set buffer threshold where time = 60 seconds and volume = 10KB"],
    handler(ctx, args) {
      const change: Partial<Thresholds> = {};
      if (args.has("time")) change.time = args.int("time");
      if (args.has("volume")) {
        const v = parseVolume(args.str("volume", ""));
        if (!v.ok) return v;
        change.volume = v.value;
      }
      if (args.has("write_immediate")) change.writeImmediate = args.bool("write_immediate", false);
      if (Object.keys(change).length === 0) return fail("bad_option", "'set buffer threshold' needs time, volume or write_immediate");
      ctx.node.bufferThresholds.set({ dbms: args.str("dbms")?.toLowerCase(), table: args.str("table")?.toLowerCase() }, change);
      return ok("buffer threshold set");
    },
  }),
  command({
    words: ["flush", "buffers"],
    summary: "Stores every streaming buffer now",
    method: "POST",
    async handler(ctx) {
      if (!ctx.node.streaming) return fail("unavailable", "no operator running: there are no streaming buffers");
      await ctx.node.streaming.flushAll();
      return ok("buffers flushed");
    },
  }),
);

async function partitionedTables(db: Database | undefined): Promise<Result<string[]>> {
  if (!db) return ok([]);
  const tables = await db.tables();
  if (!tables.ok) return tables;
  return ok([...new Set(tables.value.flatMap((t) => /^par_(.+)_\d+$/.exec(t)?.slice(1, 2) ?? []))]);
}
