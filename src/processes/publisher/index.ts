/**
 * @module processes/publisher
 * The Publisher (`run publisher where ...`): watches a directory (`files/watched-dir.ts`) for
 * data files and sends each, as the payload of a peer message (`file store where name = ...`,
 * `ingest/peer-file.ts`), to an operator of every cluster that holds the file's table (from
 * the metadata, `query/network/data-nodes.ts`), or where `set data distribution` says. The
 * operator answers once the rows are stored; then the file is backed up, compressed or
 * deleted (`files/disposal.ts`). A file that cannot be sent stays, and its table waits 1 s,
 * then twice as long each time, up to a minute; a file sent again is stored once (the
 * operator's hash). A file the operator refuses for its data goes to the error directory
 * with the reason beside it. Counts files and errors per dbms.table and destination
 * (`get publisher`). A node is a publisher or an operator, not both. While it runs, rows a
 * message client takes on this node (seed 000's `run mqtt client`) are written into its
 * watched directory as data files (messaging/row-sink.ts), and sent on as any file is.
 */
import { mkdirSync, readFileSync } from "node:fs";
import type { DataRow } from "../../ingest/rows.ts";
import { setPublisherSink } from "../../messaging/row-sink.ts";
import { writeFileAtomic } from "../../util/atomic-file.ts";
import { basename, join } from "node:path";
import type { Args } from "../../commands/spec.ts";
import { boolOption, command, dirOption, strOption } from "../../commands/spec.ts";
import { addCommands } from "../../commands/table.ts";
import { FileDisposal } from "../../files/disposal.ts";
import { WatchedDirectory } from "../../files/watched-dir.ts";
import { dataName } from "../../ingest/file-name.ts";
import "../../ingest/peer-file.ts"; // the operator side: `file store`
import { parseDestinations } from "../../network/peers.ts";
import type { Node } from "../../node/node.ts";
import { nodeSlot } from "../../node/slot.ts";
import { dataGroups } from "../../query/network/data-nodes.ts";
import { type ErrorCode, type Result, errorText, fail, ok } from "../../util/result.ts";
import { textTable } from "../../util/text-table.ts";
import { type NodeProcess, type ProcessStatus, registerProcess } from "../registry.ts";

/** The first and the longest wait before a table whose file could not be sent is tried again. */
const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 60_000;
/** Tables sent at once (one file at a time per table, in arrival order). */
const WORKERS = 4;
/** How long an operator has to store a file and answer. */
const SEND_TIMEOUT_MS = 120_000;

interface Settings {
  watchDir: string;
  bkupDir: string;
  errorDir: string;
  deleteJson: boolean;
  compressJson: boolean;
  deleteSql: boolean;
  compressSql: boolean;
  company?: string;
  master?: string;
  /** Which dot-separated segment of a file name holds the dbms, and the table. */
  dbmsSegment: number;
  tableSegment: number;
}

/** Per dbms.table and destination. */
interface DestStats {
  files: number;
  rows: number;
  errors: number;
  lastError?: string;
  lastSent?: Date;
}

/** A settled file waiting to be sent; `sentTo`: the destinations (cluster or address) that hold it already. */
interface QueuedFile {
  path: string;
  dbms: string;
  table: string;
  sentTo: Set<string>;
  tries: number;
  lastError?: string;
}

/** Where a file goes: a cluster's operators (tried in order until one stores it), or one address. */
interface Route {
  key: string;
  members: string[];
}

const VIEWS = ["tables", "files", "summary", "config", "distribution"] as const;
type PublisherView = (typeof VIEWS)[number];

/** Codes of an operator's answer that are about the file's data: the file goes to the error directory. */
const DATA_ERRORS: ReadonlySet<ErrorCode> = new Set(["bad_value", "syntax"]);

/** `set data distribution` of each node: `dbms.table` (either may be `*`) to addresses. */
const distributionOf = nodeSlot(() => new Map<string, string[]>());

/** `file_name[1]`, `1`: a segment number. */
function segment(value: string | undefined, fallback: number, key: string): Result<number> {
  if (value === undefined || value.trim() === "") return ok(fallback);
  const m = /^\s*(?:file_name\s*\[\s*(\d+)\s*\]|(\d+))\s*$/i.exec(value);
  if (!m) return fail("bad_value", `${key} = '${value}': give the file-name segment that holds it, as file_name[0] (the first) or 0`);
  return ok(Number(m[1] ?? m[2]));
}

class Publisher implements NodeProcess {
  private settings?: Settings;
  private watched?: WatchedDirectory;
  private disposal?: FileDisposal;
  private queue: QueuedFile[] = [];
  private readonly queued = new Set<string>();
  private readonly busyTables = new Set<string>();
  private readonly workers = new Set<Promise<void>>();
  private readonly paused = new Map<string, { until: number; waitMs: number }>();
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private readonly stats = new Map<string, Map<string, DestStats>>();
  private stopping = false;
  /** Aborts sends in flight when the publisher stops (their files stay). */
  private abort = new AbortController();
  private started?: Date;
  private filesDone = 0;
  private filesRefused = 0;
  /** Files written from message clients' rows. */
  private rowFiles = 0;
  /** Stops taking the message clients' rows. */
  private unsink?: () => void;

  constructor(private readonly node: Node) {}

  async start(args: Args): Promise<Result<string>> {
    if (this.node.processes.get("Operator")?.status() === "Running") {
      return fail("conflict", "this node runs an operator: a node is either a publisher (it sends files to operators) or an operator (it stores them); stop the operator with 'exit operator' first");
    }
    const home = this.node.dictionary.lookup("anylog_path") ?? ".";
    const d = (key: string, fallback: string) => args.str(key) ?? this.node.dictionary.lookup(fallback) ?? join(home, "data", fallback);
    const dbmsSegment = segment(args.str("dbms_name"), 0, "dbms_name");
    if (!dbmsSegment.ok) return dbmsSegment;
    const tableSegment = segment(args.str("table_name"), 1, "table_name");
    if (!tableSegment.ok) return tableSegment;
    if (dbmsSegment.value === tableSegment.value) return fail("bad_value", "dbms_name and table_name name the same file-name segment");
    const s: Settings = {
      watchDir: d("watch_dir", "watch_dir"),
      bkupDir: d("bkup_dir", "bkup_dir"),
      errorDir: d("error_dir", "err_dir"),
      deleteJson: args.bool("delete_json", false),
      compressJson: args.bool("compress_json", false),
      deleteSql: args.bool("delete_sql", false),
      compressSql: args.bool("compress_sql", false),
      company: args.str("company"),
      master: args.str("master_node"),
      dbmsSegment: dbmsSegment.value,
      tableSegment: tableSegment.value,
    };
    for (const p of [s.watchDir, s.bkupDir, s.errorDir]) {
      try {
        mkdirSync(p, { recursive: true });
      } catch (e) {
        return fail("io", `cannot create ${p}: ${errorText(e)}`);
      }
    }
    this.settings = s;
    this.stopping = false;
    this.abort = new AbortController();
    this.started = new Date();
    this.disposal = new FileDisposal({ stored: s.deleteJson ? { to: "delete" } : { to: "backup", dir: s.bkupDir }, compress: s.compressJson, errorDir: s.errorDir });
    const watched = new WatchedDirectory({ directory: s.watchDir, onSettled: (path) => this.take(path), onError: (m) => this.node.log.error(`Publisher: ${m}`) });
    this.watched = watched;
    const ready = await watched.start();
    if (!ready.ok) {
      if (this.stopping) return fail("unavailable", "the publisher was stopped while it was starting");
      await this.stop();
      return ready;
    }
    this.unsink = setPublisherSink(this.node, { putRows: async (dbms, table, rows, source) => this.writeRows(dbms, table, rows, source), holdsMessage: () => false });
    return ok(this.details());
  }

  /**
   * Rows a message client took: a data file in the watched directory (written whole and
   * synced before it is named, so the watcher never sees half of it and a crash loses
   * nothing acknowledged), named with the dbms and table where `dbms_name` and `table_name` say.
   */
  private writeRows(dbms: string, table: string, rows: DataRow[], source: string): Result<{ rows: number }> {
    const s = this.settings;
    if (!s || this.stopping) return fail("unavailable", "the publisher is stopping");
    const d = dataName("database", dbms);
    if (!d.ok) return d;
    const t = dataName("table", table);
    if (!t.ok) return t;
    const text = rows.map((r) => JSON.stringify(r)).join("\n");
    // (named by a hash of the rows and a count: equal rows taken twice are two files, neither written over)
    const hash = `${new Bun.CryptoHasher("md5").update(text).digest("hex")}-${Date.now()}-${++this.rowFiles}`;
    // the other segments: where the rows came from (its kind: a topic may hold '/'), the hash
    const others = [source.split(":")[0]!.replace(/[^A-Za-z0-9_-]/g, "_") || "msg", hash];
    const segments: string[] = [];
    for (let i = 0; i <= Math.max(s.dbmsSegment, s.tableSegment); i++) segments.push(i === s.dbmsSegment ? d.value : i === s.tableSegment ? t.value : (others.shift() ?? "0"));
    const written = writeFileAtomic(join(s.watchDir, `${[...segments, ...others].join(".")}.json`), text);
    return written.ok ? ok({ rows: rows.length }) : written;
  }

  /** The dbms and table of a file, from the segments `dbms_name` and `table_name` name. */
  private tableOf(path: string): Result<{ dbms: string; table: string }> {
    const s = this.settings!;
    const name = basename(path);
    const m = /^(.*)\.json(\.gz)?$/i.exec(name);
    if (!m) return fail("bad_value", `'${name}' is not a data file: names end in .json or .json.gz`);
    const parts = m[1]!.split(".");
    const dbms = parts[s.dbmsSegment];
    const table = parts[s.tableSegment];
    if (!dbms || !table) return fail("bad_value", `'${name}' has no dbms in segment ${s.dbmsSegment} or no table in segment ${s.tableSegment} (dbms_name / table_name)`);
    const d = dataName("database", dbms);
    if (!d.ok) return fail("bad_value", `'${name}': ${d.error.message}`);
    const t = dataName("table", table);
    if (!t.ok) return fail("bad_value", `'${name}': ${t.error.message}`);
    return ok({ dbms: d.value, table: t.value });
  }

  /** Queues a settled file for its table, or refuses it (not a data file). */
  private take(path: string): void {
    if (!this.settings || this.queued.has(path)) return;
    const t = this.tableOf(path);
    if (!t.ok) return this.refuse(path, t.error.message);
    this.queued.add(path);
    this.queue.push({ path, ...t.value, sentTo: new Set(), tries: 0 });
    this.startWorkers();
  }

  private open(table: string): boolean {
    return !this.busyTables.has(table) && (this.paused.get(table)?.until ?? 0) <= Date.now();
  }

  private startWorkers(): void {
    while (!this.stopping && this.workers.size < WORKERS && this.queue.some((q) => this.open(`${q.dbms}.${q.table}`))) {
      const worker: Promise<void> = this.work().finally(() => this.workers.delete(worker));
      this.workers.add(worker);
    }
  }

  /** Sends files of one table at a time (in arrival order) until none is left for a table no other worker holds. */
  private async work(): Promise<void> {
    while (!this.stopping && this.settings) {
      const next = this.queue.find((q) => this.open(`${q.dbms}.${q.table}`));
      if (!next) return;
      const table = `${next.dbms}.${next.table}`;
      this.busyTables.add(table);
      try {
        this.queue = this.queue.filter((q) => q !== next);
        const outcome = await this.send(next);
        if (this.stopping) {
          this.queued.delete(next.path); // stays in the watch directory for the next start
          return;
        }
        if (outcome === "sent") {
          this.queued.delete(next.path);
          this.paused.delete(table);
          this.done(next.path);
        } else if (outcome === "refused") {
          this.queued.delete(next.path);
          this.refuse(next.path, next.lastError ?? "refused");
        } else {
          this.tryAgainLater(table, next);
        }
      } finally {
        this.busyTables.delete(table);
      }
    }
  }

  /** Where dbms.table goes: `set data distribution`, else one route per cluster that holds it. */
  private routes(dbms: string, table: string): Result<Route[]> {
    const set = distributionOf(this.node);
    const dests = set.get(`${dbms}.${table}`) ?? set.get(`${dbms}.*`) ?? set.get(`*.${table}`) ?? set.get("*.*");
    if (dests) return ok(dests.map((a) => ({ key: a, members: [a] })));
    const groups = dataGroups(this.node, dbms, table);
    if (!groups.ok) return fail(groups.error.code, `no operator hosts ${dbms}.${table}: ${groups.error.message}`);
    return ok(groups.value.map((g) => ({ key: g.cluster ?? g.members.join(","), members: g.members })));
  }

  /** Sends a file to every route that does not hold it yet; "sent" once all do. */
  private async send(file: QueuedFile): Promise<"sent" | "refused" | "later"> {
    file.tries++;
    const key = `${file.dbms}.${file.table}`;
    const routes = this.routes(file.dbms, file.table);
    if (!routes.ok) {
      file.lastError = routes.error.message;
      this.countError(key, "", routes.error.message);
      this.node.log.warn(`Publisher: ${basename(file.path)} stays: ${routes.error.message}`);
      return "later";
    }
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(file.path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return "sent"; // taken away meanwhile: nothing to send
      file.lastError = `cannot read ${basename(file.path)}: ${errorText(e)}`;
      this.countError(key, "", file.lastError);
      return "later";
    }
    const name = basename(file.path);
    const cmd = `file store where name = ${name} and dbms = ${file.dbms} and table = ${file.table}`;
    let later = false;
    for (const route of routes.value) {
      if (file.sentTo.has(route.key)) continue;
      let stored = false;
      for (const member of route.members) {
        if (this.stopping) return "later";
        const r = await this.node.peers.request(member, { command: cmd, from: this.node.name, body: bytes }, SEND_TIMEOUT_MS, { signal: this.abort.signal });
        const error = !r.ok ? { code: r.error.code, message: r.error.message } : !r.value.ok ? { code: r.value.code, message: r.value.message } : undefined;
        if (!error) {
          const reply = r.ok && r.value.ok ? r.value.reply : undefined;
          const rows = typeof reply === "object" && reply !== null && typeof (reply as { rows?: unknown }).rows === "number" ? (reply as { rows: number }).rows : 0;
          const st = this.statsOf(key, member);
          st.files++;
          st.rows += rows;
          st.lastSent = new Date();
          file.sentTo.add(route.key);
          stored = true;
          break;
        }
        file.lastError = `${member}: ${error.message}`;
        this.countError(key, member, error.message);
        // the file is at fault: the operator refused its data, or its size (over the operator's message
        // limit, refused by the connection itself before any reply); sent again it would fail again
        if (r.ok ? DATA_ERRORS.has(error.code) : error.code === "too_large") {
          this.node.log.warn(`Publisher: ${name} refused by ${member}: ${error.message}`);
          return "refused";
        }
      }
      if (!stored) later = true;
    }
    return later ? "later" : "sent";
  }

  private statsOf(table: string, dest: string): DestStats {
    let byDest = this.stats.get(table);
    if (!byDest) this.stats.set(table, (byDest = new Map()));
    let st = byDest.get(dest);
    if (!st) byDest.set(dest, (st = { files: 0, rows: 0, errors: 0 }));
    return st;
  }

  private countError(table: string, dest: string, message: string): void {
    const st = this.statsOf(table, dest);
    st.errors++;
    st.lastError = message;
  }

  /** A file that could not be sent stays; its table waits 1 s, then twice as long each time, up to a minute. */
  private tryAgainLater(table: string, file: QueuedFile): void {
    const waitMs = Math.min(RETRY_MAX_MS, (this.paused.get(table)?.waitMs ?? RETRY_FIRST_MS / 2) * 2);
    this.paused.set(table, { until: Date.now() + waitMs, waitMs });
    this.queue.unshift(file);
    this.node.log.warn(`Publisher: ${basename(file.path)} stays in the watch directory, tried again in ${waitMs / 1000} s: ${file.lastError ?? ""}`);
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.startWorkers();
    }, waitMs + 10);
    this.timers.add(timer);
  }

  /** A file every destination stored: deleted, or backed up (compressed when asked). */
  private done(path: string): void {
    this.filesDone++;
    const r = this.disposal?.stored(path);
    this.watched?.release(path);
    if (r && !r.ok) this.node.log.error(`Publisher: ${r.error.message}`);
  }

  /** A file that is not data, or whose data an operator refused: to the error directory with the reason. */
  private refuse(path: string, reason: string): void {
    if (!this.disposal) return;
    this.filesRefused++;
    const r = this.disposal.refused(path, reason);
    this.watched?.release(path);
    this.node.log.warn(`Publisher: ${basename(path)} -> error directory: ${reason}`);
    if (!r.ok) this.node.log.error(`Publisher: ${r.error.message}`);
  }

  async stop(): Promise<void> {
    this.unsink?.();
    this.unsink = undefined;
    const watchStopped = this.watched?.stop();
    this.stopping = true;
    this.abort.abort();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.paused.clear();
    await watchStopped;
    this.watched = undefined;
    await Promise.all(this.workers);
    this.queue = [];
    this.queued.clear();
    this.settings = undefined;
  }

  status(): ProcessStatus {
    return this.settings ? "Running" : "Not declared";
  }

  details(): string {
    const s = this.settings;
    if (!s) return "";
    return `Watching: ${s.watchDir}, Files sent: ${this.filesDone}, Files waiting: ${this.queue.length + this.busyTables.size}`;
  }

  info(): Record<string, unknown> {
    const s = this.settings;
    if (!s) return {};
    return { watch_dir: s.watchDir, started: this.started?.toISOString(), files_sent: this.filesDone, files_refused: this.filesRefused, files_waiting: this.queue.length, tables: this.tableRows() };
  }

  private tableRows(): Array<{ dbms: string; table: string; destination: string; files: number; rows: number; errors: number; last_error: string | null; last_sent: string | null }> {
    return [...this.stats]
      .sort(([a], [b]) => a.localeCompare(b))
      .flatMap(([key, byDest]) => {
        const [dbms = "", table = ""] = key.split(".");
        return [...byDest].map(([dest, v]) => ({ dbms, table, destination: dest, files: v.files, rows: v.rows, errors: v.errors, last_error: v.lastError ?? null, last_sent: v.lastSent?.toISOString() ?? null }));
      });
  }

  view(view: Exclude<PublisherView, "distribution">): { json: object; text: string } {
    const s = this.settings;
    const pairs = (o: Record<string, unknown>) => textTable(["Name", "Value"], Object.entries(o).map(([k, v]) => [k.replaceAll("_", " "), Array.isArray(v) ? v.join(", ") : String(v ?? "")]));
    switch (view) {
      case "tables": {
        const rows = this.tableRows();
        const json = { process: "Publisher", status: this.status(), ...this.info() };
        const text = textTable(["DBMS", "Table", "Destination", "Files", "Rows", "Errors", "Last error"], rows.map((r) => [r.dbms, r.table, r.destination, r.files, r.rows, r.errors, r.last_error ?? ""]));
        return { json, text: `Publisher: ${this.status()}${s ? `, ${this.details()}` : ""}\n${text}` };
      }
      case "files": {
        const waiting = [...this.queue].map((q) => ({ file: basename(q.path), dbms: q.dbms, table: q.table, tries: q.tries, sent_to: [...q.sentTo], last_error: q.lastError ?? null }));
        return { json: waiting, text: textTable(["File", "DBMS", "Table", "Tries", "Sent to", "Last error"], waiting.map((w) => [w.file, w.dbms, w.table, w.tries, w.sent_to.join(", "), w.last_error ?? ""])) };
      }
      case "summary": {
        const rows = this.tableRows();
        const json = {
          status: this.status(),
          started: this.started?.toISOString() ?? null,
          files_sent: this.filesDone,
          files_refused: this.filesRefused,
          send_errors: rows.reduce((n, r) => n + r.errors, 0),
          files_waiting: this.queue.length,
          files_settling: this.watched?.settling ?? 0,
          tables_waiting_to_retry: [...this.paused.keys()],
        };
        return { json, text: pairs(json) };
      }
      case "config": {
        const json = s
          ? {
              watch_dir: s.watchDir,
              bkup_dir: s.bkupDir,
              error_dir: s.errorDir,
              delete_json: s.deleteJson,
              compress_json: s.compressJson,
              delete_sql: s.deleteSql,
              compress_sql: s.compressSql,
              company: s.company ?? null,
              master_node: s.master ?? null,
              dbms_name: `file_name[${s.dbmsSegment}]`,
              table_name: `file_name[${s.tableSegment}]`,
            }
          : { status: this.status() };
        return { json, text: pairs(json) };
      }
    }
  }
}

/** `get publisher distribution`: the routes `set data distribution` declared. */
function distributionView(node: Node): { json: object; text: string } {
  const rows = [...distributionOf(node)].sort(([a], [b]) => a.localeCompare(b)).map(([key, dests]) => {
    const i = key.indexOf(".");
    return { dbms: key.slice(0, i), table: key.slice(i + 1), destinations: dests };
  });
  return { json: rows, text: textTable(["DBMS", "Table", "Destinations"], rows.map((r) => [r.dbms, r.table, r.destinations.join(", ")])) };
}

addCommands(
  command({
    words: ["get", "publisher"],
    summary: "The publisher: files sent and errors per table and destination; or the files waiting, a summary, its configuration, the distribution set",
    method: "GET",
    positional: [{ name: "view", type: "str", help: `${VIEWS.slice(1).join(", ")} (default: per table and destination)`, optional: true }],
    options: { format: { type: "str", help: "json" } },
    examples: ["get publisher", "get publisher files", "get publisher summary where format = json", "get publisher config", "get publisher distribution"],
    handler(ctx, args) {
      const view = (args.str("view") ?? "tables").toLowerCase();
      if (!(VIEWS as readonly string[]).includes(view)) return fail("bad_option", `'get publisher ${view}': the views are ${VIEWS.slice(1).join(", ")}`);
      let r: { json: object; text: string };
      if (view === "distribution") r = distributionView(ctx.node);
      else {
        const proc = ctx.node.processes.get("Publisher");
        if (!(proc instanceof Publisher)) return fail("internal", "the Publisher process is not this build's publisher");
        r = proc.view(view as Exclude<PublisherView, "distribution">);
      }
      return ok(args.str("format") === "json" ? r.json : r.text);
    },
  }),
  command({
    words: ["set", "data", "distribution"],
    summary: "Sends a publisher's files of dbms.table (table may be *) to these operators instead of those the metadata names",
    method: "POST",
    options: {
      dbms: { type: "str", help: "the database (or *)", required: true },
      table: { type: "str", help: "the table (or * for every table of the dbms)", required: true },
      dest: { type: "str", help: "an operator's ip:port (repeat for more; 'none' removes the setting)", required: true, multiple: true },
    },
    examples: ["set data distribution where dbms = lsl_demo and table = ping_sensor and dest = 10.0.0.25:32148 and dest = 10.0.0.26:32148", "set data distribution where dbms = lsl_demo and table = * and dest = 10.0.0.25:32148"],
    handler(ctx, args) {
      const names: string[] = [];
      for (const [kind, v] of [["database", args.str("dbms", "")], ["table", args.str("table", "")]] as const) {
        if (v === "*") {
          names.push(v);
          continue;
        }
        const n = dataName(kind, v);
        if (!n.ok) return n;
        names.push(n.value);
      }
      const key = names.join(".");
      const given = args.list("dest");
      const set = distributionOf(ctx.node);
      if (given.length === 1 && given[0]!.trim().toLowerCase() === "none") {
        set.delete(key);
        return ok(`data of ${key} goes where the metadata says`);
      }
      const dests = parseDestinations(given);
      if (!dests.ok) return dests;
      set.set(key, dests.value);
      return ok(`data of ${key} goes to ${dests.value.join(", ")}`);
    },
  }),
);

registerProcess({
  name: "Publisher",
  order: 40,
  aliases: ["publisher"],
  run: {
    words: ["run", "publisher"],
    peer: false,
    summary: "Routes data files to the operators that host their tables",
    options: {
      watch_dir: dirOption("watched"),
      bkup_dir: dirOption("backup"),
      error_dir: dirOption("error"),
      delete_json: boolOption("delete the JSON file after it is sent"),
      delete_sql: boolOption("delete the SQL file after it is sent (this node sends no SQL files)"),
      compress_json: boolOption("compress the JSON file after it is sent"),
      compress_sql: boolOption("compress the SQL file after it is sent (this node sends no SQL files)"),
      company: strOption("company that owns the data (default: the dbms name)"),
      master_node: { type: "ipport", help: "the master node (ip:port)" },
      dbms_name: strOption("file-name segment that holds the dbms name: file_name[0] (default)"),
      table_name: strOption("file-name segment that holds the table name: file_name[1] (default)"),
    },
    examples: ["run publisher where delete_json = true and delete_sql = true", "run publisher where compress_json = true and master_node = !ledger_conn and dbms_name = file_name[0] and table_name = file_name[1]"],
  },
  create: (node) => new Publisher(node),
});
