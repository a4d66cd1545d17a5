/**
 * @module ingest/commands
 * Data-storage settings from the command line: `partition`, `get partitions`,
 * `drop partition`, `set buffer threshold`, `flush buffers`, `get streaming [config]`.
 */
import { command } from "../commands/spec.ts";
import { addCommands } from "../commands/table.ts";
import type { Node } from "../node/node.ts";
import type { Database } from "../storage/database.ts";
import { type Result, fail, ok } from "../util/result.ts";
import { textTable } from "../util/text-table.ts";
import { bufferThresholds, type Thresholds } from "./buffers.ts";
import { parseVolume } from "../util/volume.ts";
import { NO_OPERATOR, intakeOf } from "./intake.ts";
import { withTableLock } from "./ingest.ts";
import { dropPartitions, listPartitions, parseInterval, partitionRules } from "./partitions.ts";
import { forgetColumns } from "./table-writer.ts";
import { timeText } from "../util/time-text.ts";

addCommands(
  command({
    words: ["partition"],
    peer: false,
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
      partitionRules(ctx.node).set(rule);
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
      for (const r of partitionRules(ctx.node).all()) {
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
    peer: false,
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
      write_immediate: { type: "bool", help: "store every PUT before it is answered" },
      journal_size: { type: "str", help: "the most acknowledged data waiting to be stored (default 64MB); past it PUTs answer 503" },
    },
    examples: ["set buffer threshold where write_immediate = true", "set buffer threshold where time = 60 seconds and volume = 10KB", "set buffer threshold where journal_size = 256MB"],
    handler(ctx, args) {
      const thresholds = bufferThresholds(ctx.node);
      const change: Partial<Thresholds> = {};
      if (args.has("time")) change.time = args.int("time");
      if (args.has("volume")) {
        const v = parseVolume(args.str("volume", ""));
        if (!v.ok) return v;
        change.volume = v.value;
      }
      if (args.has("write_immediate")) change.writeImmediate = args.bool("write_immediate", false);
      if (args.has("journal_size")) {
        if (args.has("dbms") || args.has("table")) return fail("bad_option", "'journal_size' is one for the node: not per dbms or table");
        const v = parseVolume(args.str("journal_size", ""));
        if (!v.ok) return v;
        if (v.value < 1024 * 1024) return fail("bad_option", "'journal_size' must be 1MB or more");
        thresholds.journalBytes = v.value;
        intakeOf(ctx.node)?.resizeJournal(v.value);
      }
      if (Object.keys(change).length === 0 && !args.has("journal_size")) return fail("bad_option", "'set buffer threshold' needs time, volume, write_immediate or journal_size");
      if (Object.keys(change).length > 0) thresholds.set({ dbms: args.str("dbms")?.toLowerCase(), table: args.str("table")?.toLowerCase() }, change);
      return ok("buffer threshold set");
    },
  }),
  command({
    words: ["flush", "buffers"],
    summary: "Stores every streaming buffer now",
    method: "POST",
    async handler(ctx) {
      const intake = intakeOf(ctx.node);
      if (!intake) return fail("unavailable", `there are no streaming buffers: ${NO_OPERATOR}`);
      await intake.flushAll();
      return ok("buffers flushed");
    },
  }),
  command({
    words: ["get", "streaming"],
    summary: "The streaming buffers per dbms.table (PUTs, rows, cached rows, thresholds, time left) and the journal; or the thresholds (config)",
    method: "GET",
    positional: [{ name: "view", type: "str", help: "config: the thresholds", optional: true }],
    options: { format: { type: "str", help: "json" } },
    examples: ["get streaming", "get streaming where format = json", "get streaming config"],
    handler(ctx, args) {
      const view = args.str("view")?.toLowerCase();
      if (view !== undefined && view !== "config") return fail("bad_option", `'get streaming ${view}': the view is config`);
      const r = view === "config" ? streamingConfig(ctx.node) : streamingReport(ctx.node);
      if (!r.ok) return r;
      return ok(args.str("format") === "json" ? r.value.json : r.value.text);
    },
  }),
);

async function partitionedTables(db: Database | undefined): Promise<Result<string[]>> {
  if (!db) return ok([]);
  const tables = await db.tables();
  if (!tables.ok) return tables;
  return ok([...new Set(tables.value.flatMap((t) => /^par_(.+)_\d+$/.exec(t)?.slice(1, 2) ?? []))]);
}

/** `get streaming`: one entry per dbms.table in AnyLog's terms, then the journal. */
function streamingReport(node: Node): Result<{ json: object; text: string }> {
  const intake = intakeOf(node);
  if (!intake) return fail("unavailable", `there are no streaming buffers: ${NO_OPERATOR}`);
  const { tables, journal } = intake.report();
  const streamerRuns = node.processes.get("Streamer")?.status() === "Running";
  const rows = tables.map((t) => ({
    "dbms-table": `${t.dbms}.${t.table}`,
    "put files": t.putFiles ?? 0,
    "put rows": t.putRows ?? 0,
    "streaming calls": t.streamingCalls ?? 0,
    "streaming rows": t.streamingRows ?? 0,
    "cached rows": t.cachedRows,
    "immediate count": t.immediate ?? 0,
    "threshold volume": t.thresholds.volume,
    "threshold time": t.thresholds.time,
    "write immediate": t.thresholds.writeImmediate || !streamerRuns,
    "buffer fill": Math.min(100, Math.round((t.cachedBytes / Math.max(1, t.thresholds.volume)) * 100)),
    "time left": t.timeLeft === undefined ? 0 : Math.round(t.timeLeft),
    "last process": t.lastProcess ? timeText(t.lastProcess) : "",
    "last error": t.lastError ?? "",
  }));
  const j = {
    "journal bytes": journal.bytes,
    "journal limit": journal.maxBytes,
    "journal segments": journal.segments,
    "journal pending": journal.pending,
    "oldest pending": journal.oldestPending ? timeText(journal.oldestPending) : "",
  };
  const headers = ["DBMS-Table", "Put files", "Put rows", "Streaming calls", "Streaming rows", "Cached rows", "Immediate count", "Threshold volume", "Threshold time", "Buffer fill %", "Time left", "Last process"];
  const text = textTable(
    headers,
    rows.map((r) => [r["dbms-table"], r["put files"], r["put rows"], r["streaming calls"], r["streaming rows"], r["cached rows"], r["immediate count"], r["threshold volume"], r["threshold time"], r["buffer fill"], r["time left"], r["last process"]]),
  );
  const journalText = `Journal: ${(journal.bytes / 1024 / 1024).toFixed(1)} of ${(journal.maxBytes / 1024 / 1024).toFixed(0)} MB, ${journal.pending} unit(s) not yet stored${journal.oldestPending ? `, the oldest since ${j["oldest pending"]}` : ""}`;
  return ok({ json: { tables: rows, journal: j }, text: `${text}\n${journalText}` });
}

/** `get streaming config`: the thresholds, default and per dbms or table, and the journal's bound. */
function streamingConfig(node: Node): Result<{ json: object; text: string }> {
  const thresholds = bufferThresholds(node);
  const scopes = thresholds.scopes();
  const json = {
    streamer: node.processes.get("Streamer")?.status() === "Running" ? "running" : "not running: every streaming PUT is stored before it is answered",
    journal_size: thresholds.journalBytes,
    thresholds: scopes.map(([scope, t]) => ({ scope: scope || "default", time: t.time, volume: t.volume, write_immediate: t.writeImmediate })),
  };
  const text = `${textTable(["Scope", "Time", "Volume", "Write immediate"], json.thresholds.map((t) => [t.scope, t.time, t.volume, t.write_immediate]))}\nJournal size: ${thresholds.journalBytes} bytes; streamer ${json.streamer}`;
  return ok({ json, text });
}
