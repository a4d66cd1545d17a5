/**
 * @module processes/operator
 * The Operator (`run operator where ...`): hosts data. It takes the settled files of its
 * watch directory (`files/watched-dir.ts`) named by the AnyLog convention, queues them per
 * table, stores each exactly once (through `ingest/ingest.ts`) with up to `threads` workers,
 * one per table, tries files that failed for a cause outside them again with a growing wait,
 * and counts files, rows and errors per table (`get operator`). A stored file is backed up,
 * archived, compressed or deleted as configured, a file that fails goes to the error
 * directory with its reason beside it (`files/disposal.ts`). While it runs it takes REST PUTs
 * (through the node's intake, `ingest/intake.ts`, which it opens): `mode=file` becomes a
 * watch-directory file, `mode=streaming` goes through the journal and the streaming buffers.
 */
import { mkdirSync } from "node:fs";
import { basename, join } from "node:path";
import type { Args } from "../../commands/spec.ts";
import { FileDisposal, type StoredFiles } from "../../files/disposal.ts";
import { WatchedDirectory } from "../../files/watched-dir.ts";
import { type DataFileName, parseDataFileName } from "../../ingest/file-name.ts";
import { type IngestUnit, type UnitOutcome, isTransient } from "../../ingest/ingest.ts";
import { type Intake, type IntakeEvent, closeIntake, openIntake } from "../../ingest/intake.ts";
import type { Node } from "../../node/node.ts";
import { boolOption, command, dirOption } from "../../commands/spec.ts";
import { addCommands } from "../../commands/table.ts";
import { AnyLogError, type Result, errorText, fail, ok } from "../../util/result.ts";
import { textTable } from "../../util/text-table.ts";
import { type NodeProcess, type ProcessStatus, registerProcess } from "../registry.ts";

interface Settings {
  policy?: string;
  watchDir: string;
  bkupDir: string;
  errorDir: string;
  archiveDir: string;
  journalDir: string;
  deleteJson: boolean;
  compressJson: boolean;
  moveJson: boolean;
  archive: boolean;
  distributor: boolean;
  limitTables: string[];
  createTable: boolean;
  updateTsdInfo: boolean;
  master?: string;
  threads: number;
}

interface TableStats {
  files: number;
  rows: number;
  errors: number;
  lastError?: string;
  lastInsert?: Date;
}

/** What `get operator [inserts|summary|config]` shows. */
const VIEWS = ["tables", "inserts", "summary", "config"] as const;
type OperatorView = (typeof VIEWS)[number];

/** Files taken into one batch (one transaction) at most. */
const BATCH_FILES = 50;

/** The first and the longest wait before files that failed for a cause outside them are tried again. */
const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 60_000;

/** A settled data file waiting to be stored; `table` is its `dbms.table`. */
interface QueuedFile {
  path: string;
  name: DataFileName;
  table: string;
}

class Operator implements NodeProcess {
  private settings?: Settings;
  /** The watch directory: reports each settled file once (until released). */
  private watched?: WatchedDirectory;
  /** Where stored and refused files go. */
  private disposal?: FileDisposal;
  /** Settled data files waiting to be stored, in arrival order, with the table they go to. */
  private queue: QueuedFile[] = [];
  private readonly queued = new Set<string>();
  /** Tables a worker is storing now: one worker per table at a time (no two CREATE/ALTER races). */
  private readonly busyTables = new Set<string>();
  /** Workers storing queued files: up to `threads`, each on a table of its own. */
  private readonly workers = new Set<Promise<void>>();
  /** Set by stop: workers end after their current batch (the rest stays in the watch directory). */
  private stopping = false;
  /** Tables whose last batch failed for a cause outside the data: when to try again, and the wait before. */
  private readonly paused = new Map<string, { until: number; waitMs: number }>();
  /** Timers of paused tables (cleared by stop). */
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private readonly stats = new Map<string, TableStats>();
  private started?: Date;
  /** The node's intake, opened by this operator: every row it stores goes through it. */
  private intake?: Intake;

  constructor(private readonly node: Node) {}

  async start(args: Args): Promise<Result<string>> {
    // AnyLog: a node is a publisher or an operator, not both (the publisher sends its files away)
    if (this.node.processes.get("Publisher")?.status() === "Running") {
      return fail("conflict", "this node runs the publisher: a node is a publisher or an operator, not both ('exit publisher' first)");
    }
    const d = (key: string, fallback: string) => args.str(key) ?? this.node.dictionary.lookup(fallback) ?? join(this.node.dictionary.lookup("anylog_path") ?? ".", "data", fallback);
    const s: Settings = {
      policy: args.str("policy"),
      watchDir: d("watch_dir", "watch_dir"),
      bkupDir: d("bkup_dir", "bkup_dir"),
      errorDir: d("error_dir", "err_dir"),
      archiveDir: this.node.dictionary.lookup("archive_dir") ?? join(d("bkup_dir", "bkup_dir"), "archive"),
      journalDir: this.node.dictionary.lookup("journal_dir") ?? join(this.node.dictionary.lookup("anylog_path") ?? ".", "data", "journal"),
      deleteJson: args.bool("delete_json", false),
      compressJson: args.bool("compress_json", false),
      moveJson: args.bool("move_json", false),
      archive: args.bool("archive", false) || args.bool("archive_json", false),
      distributor: args.bool("distributor", false),
      limitTables: args.list("limit_tables").map((t) => t.toLowerCase()),
      createTable: args.bool("create_table", true),
      updateTsdInfo: args.bool("update_tsd_info", true),
      master: args.str("master_node") ?? args.str("master"),
      threads: args.int("threads", 1),
    };
    for (const p of [s.watchDir, s.bkupDir, s.errorDir]) {
      try {
        mkdirSync(p, { recursive: true });
      } catch (e) {
        return fail("io", `cannot create ${p}: ${errorText(e)}`);
      }
    }
    if (s.updateTsdInfo && !this.node.databases.get("almgm")) {
      return fail("unavailable", "the operator records files in almgm.tsd_info: 'connect dbms almgm where type = sqlite' and 'create table tsd_info where dbms = almgm' first (or update_tsd_info = false)");
    }
    this.settings = s;
    this.stopping = false;
    this.started = new Date();
    const intake = await openIntake(this.node, {
      createTable: s.createTable,
      updateTsdInfo: s.updateTsdInfo,
      master: s.master,
      limitTables: s.limitTables,
      watchDir: s.watchDir,
      errorDir: s.errorDir,
      journalDir: s.journalDir,
    });
    if (!intake.ok) {
      this.settings = undefined;
      return intake;
    }
    this.intake = intake.value;
    intake.value.onOutcome((e) => this.count(e));
    // (with distributor = true a stored file is archived: the data distributor reads what it
    // sends from the database, and the archive keeps the source file as AnyLog's does)
    const stored: StoredFiles = s.deleteJson ? { to: "delete" } : s.archive || s.distributor ? { to: "archive", dir: s.archiveDir } : { to: "backup", dir: s.bkupDir };
    this.disposal = new FileDisposal({ stored, compress: s.compressJson, errorDir: s.errorDir });
    const watched = new WatchedDirectory({ directory: s.watchDir, onSettled: (path) => this.take(path), onError: (m) => this.node.log.error(`Operator: ${m}`) });
    this.watched = watched;
    const ready = await watched.start();
    if (!ready.ok) {
      if (this.stopping) return fail("unavailable", "the operator was stopped while it was starting");
      await this.stop();
      return ready;
    }
    return ok(this.details());
  }

  /** Queues a settled file of the watch directory for its table, or refuses it (not a data file, outside limit_tables). */
  private take(path: string): void {
    if (!this.settings || this.queued.has(path)) return;
    if (!/\.json(\.gz)?$/i.test(path)) return this.refuse(path, `'${basename(path)}' is not a data file: names end in .json or .json.gz`);
    const name = parseDataFileName(basename(path));
    if (!name.ok) return this.refuse(path, name.error.message);
    const table = `${name.value.dbms}.${name.value.table}`;
    const outside = this.intake?.refusal(name.value.table);
    if (outside) return this.refuse(path, outside, table);
    this.queued.add(path);
    this.queue.push({ path, name: name.value, table });
    this.startWorkers();
  }

  /** Runs `run` after `ms`, unless the operator stops first. */
  private later(ms: number, run: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      run();
    }, ms);
    this.timers.add(timer);
  }

  /** Whether a worker may take files of this table now: none holds it and it is not waiting to try again. */
  private open(table: string): boolean {
    return !this.busyTables.has(table) && (this.paused.get(table)?.until ?? 0) <= Date.now();
  }

  /** Starts workers while there are fewer than `threads` and queued files of a table no worker holds. */
  private startWorkers(): void {
    const threads = Math.max(1, this.settings?.threads ?? 1);
    while (!this.stopping && this.workers.size < threads && this.queue.some((q) => this.open(q.table))) {
      const worker: Promise<void> = this.work().finally(() => this.workers.delete(worker));
      this.workers.add(worker);
    }
  }

  /**
   * Stores queued files in batches of one table (one transaction each) until no file is
   * left for a table that no other worker holds. Synchronous up to the first store, so the
   * table is marked busy before startWorkers looks again.
   */
  private async work(): Promise<void> {
    while (!this.stopping && this.settings) {
      const next = this.queue.find((q) => this.open(q.table));
      if (!next) return;
      const table = next.table;
      this.busyTables.add(table);
      try {
        const taken: QueuedFile[] = [];
        const rest: QueuedFile[] = [];
        for (const q of this.queue) (q.table === table && taken.length < BATCH_FILES ? taken : rest).push(q);
        this.queue = rest;
        const batch: Array<{ file: QueuedFile; unit: IngestUnit }> = [];
        for (const file of taken) {
          const unit = this.intake ? await this.intake.readFile(file.path, file.name) : fail<IngestUnit>("unavailable", "the operator is stopping");
          if (unit.ok) batch.push({ file, unit: unit.value });
          else {
            this.queued.delete(file.path);
            this.refuse(file.path, unit.error.message, table);
          }
        }
        if (batch.length === 0) continue;
        const { dbms, table: name } = taken[0]!.name;
        const outcomes = await this.store(dbms, name, batch.map((b) => b.unit));
        const again: QueuedFile[] = [];
        let why = "";
        batch.forEach(({ file }, i) => {
          const o = outcomes[i]!;
          if (o.status === "failed" && isTransient(o.error)) {
            again.push(file);
            why = o.error.message;
            return;
          }
          this.queued.delete(file.path);
          if (o.status === "stored") this.done(file.path);
          else if (o.status === "duplicate") this.refuse(file.path, `duplicate: this data was stored before as file ${o.fileId}`, table);
          else this.refuse(file.path, o.error.message, table);
        });
        if (again.length > 0) this.tryAgainLater(table, again, why);
        else this.paused.delete(table);
      } finally {
        this.busyTables.delete(table);
      }
    }
  }

  /**
   * Files that failed for a cause outside them (the disk is full, the database is down) stay
   * in the watch directory and at the head of the queue; their table waits, 1 s the first
   * time and twice as long each time after, up to a minute.
   */
  private tryAgainLater(table: string, files: QueuedFile[], why: string): void {
    const waitMs = Math.min(RETRY_MAX_MS, (this.paused.get(table)?.waitMs ?? RETRY_FIRST_MS / 2) * 2);
    this.paused.set(table, { until: Date.now() + waitMs, waitMs });
    this.queue.unshift(...files);
    this.node.log.warn(`Operator: ${files.length} file(s) of ${table} stay in the watch directory, tried again in ${waitMs / 1000} s: ${why}`);
    this.later(waitMs + 10, () => this.startWorkers()); // (a timer may fire a millisecond before Date.now() says)
  }

  /** Stores units of one table; one outcome per unit (counted as the intake reports them). */
  private async store(dbms: string, table: string, units: IngestUnit[]): Promise<UnitOutcome[]> {
    return this.intake ? this.intake.store(dbms, table, units) : units.map(() => ({ status: "failed", error: new AnyLogError("unavailable", "the operator is stopping") }));
  }

  /** Every unit the intake settles, from files and from REST, counts in `get operator`. */
  private count(e: IntakeEvent): void {
    const key = `${e.dbms}.${e.table}`;
    const st = this.stats.get(key) ?? { files: 0, rows: 0, errors: 0 };
    this.stats.set(key, st);
    const o = e.outcome;
    if (o.status === "stored") {
      st.files++;
      st.rows += o.rows;
      st.lastInsert = new Date();
    } else if (o.status === "failed") {
      if (!isTransient(o.error)) st.errors++; // data kept to try again is not an error of the data
      st.lastError = o.error.message;
    }
  }

  /** A stored file leaves the watch directory: deleted, archived, backed up (compressed when asked). */
  private done(path: string): void {
    const r = this.disposal?.stored(path);
    this.watched?.release(path);
    if (r && !r.ok) this.node.log.error(`Operator: ${r.error.message}`);
  }

  /** A file that cannot be stored goes to the error directory, with `<name>.err.txt` saying why. */
  private refuse(path: string, reason: string, table?: string): void {
    if (!this.settings || !this.disposal) return;
    const r = this.disposal.refused(path, reason);
    this.watched?.release(path);
    if (r.ok && r.value.kind === "missing") return;
    if (table) {
      const st = this.stats.get(table) ?? { files: 0, rows: 0, errors: 0 };
      if (!reason.startsWith("duplicate")) {
        st.errors++;
        st.lastError = reason;
      }
      this.stats.set(table, st);
    }
    this.node.log.warn(`Operator: ${basename(path)} -> error directory: ${reason}`);
    if (!r.ok) this.node.log.error(`Operator: ${r.error.message}`);
  }

  async stop(): Promise<void> {
    const watchStopped = this.watched?.stop(); // no file reported after this; a start still waiting for the watcher ends
    this.stopping = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.paused.clear();
    await watchStopped;
    this.watched = undefined;
    await Promise.all(this.workers);
    if (this.intake) await closeIntake(this.node); // buffers written; what cannot be stays in the journal
    this.intake = undefined;
    this.queue = [];
    this.queued.clear();
    this.settings = undefined;
  }

  status(): ProcessStatus {
    return this.settings && this.intake ? "Running" : "Not declared"; // (running once the journal is replayed)
  }

  details(): string {
    const s = this.settings;
    if (!s) return "";
    const files = [...this.stats.values()].reduce((n, t) => n + t.files, 0);
    return `Watching: ${s.watchDir}, Files stored: ${files}, Policy: ${s.policy ?? "none"}`;
  }

  info(): Record<string, unknown> {
    const s = this.settings;
    if (!s) return {};
    return {
      policy: s.policy,
      watch_dir: s.watchDir,
      started: this.started?.toISOString(),
      queued_files: this.queue.length,
      threads: s.threads,
      busy_tables: [...this.busyTables],
      create_table: s.createTable,
      update_tsd_info: s.updateTsdInfo,
      tables: Object.fromEntries([...this.stats].map(([k, v]) => [k, { files: v.files, rows: v.rows, errors: v.errors, last_error: v.lastError }])),
    };
  }

  /** `get operator [view]`: the reply as JSON and as text. */
  view(view: OperatorView): { json: object; text: string } {
    const s = this.settings;
    const tables = [...this.stats].sort(([a], [b]) => a.localeCompare(b));
    const pairs = (o: Record<string, unknown>) => textTable(["Name", "Value"], Object.entries(o).map(([k, v]) => [k.replaceAll("_", " "), Array.isArray(v) ? v.join(", ") : (v as string)]));
    switch (view) {
      case "tables": {
        const json = { process: "Operator", status: this.status(), ...this.info() };
        const rows = tables.map(([t, v]) => [t, v.files, v.rows, v.errors, v.lastError ?? ""]);
        return { json, text: `Operator: ${this.status()}${s ? `, ${this.details()}` : ""}\n${textTable(["Table", "Files", "Rows", "Errors", "Last error"], rows)}` };
      }
      case "inserts": {
        const json = tables.map(([t, v]) => ({ table: t, files: v.files, rows: v.rows, errors: v.errors, last_insert: v.lastInsert?.toISOString() ?? null }));
        return { json, text: textTable(["Table", "Files", "Rows", "Errors", "Last insert"], json.map((r) => [r.table, r.files, r.rows, r.errors, r.last_insert ?? ""])) };
      }
      case "summary": {
        const sum = (f: (t: TableStats) => number) => tables.reduce((n, [, v]) => n + f(v), 0);
        const json = {
          status: this.status(),
          started: this.started?.toISOString() ?? null,
          files_stored: sum((t) => t.files),
          rows_stored: sum((t) => t.rows),
          errors: sum((t) => t.errors),
          files_queued: this.queue.length,
          files_settling: this.watched?.settling ?? 0,
          tables_busy: [...this.busyTables],
          tables_waiting_to_retry: [...this.paused.keys()],
        };
        return { json, text: pairs(json) };
      }
      case "config": {
        const json = s
          ? {
              policy: s.policy ?? null,
              watch_dir: s.watchDir,
              bkup_dir: s.bkupDir,
              error_dir: s.errorDir,
              archive_dir: s.archiveDir,
              delete_json: s.deleteJson,
              compress_json: s.compressJson,
              archive: s.archive,
              distributor: s.distributor,
              limit_tables: s.limitTables,
              create_table: s.createTable,
              update_tsd_info: s.updateTsdInfo,
              master_node: s.master ?? null,
              threads: s.threads,
            }
          : { status: this.status() };
        return { json, text: pairs(json) };
      }
    }
  }
}

addCommands(
  command({
    words: ["get", "operator"],
    summary: "The operator: files, rows and errors per table; or its inserts, a summary, its configuration",
    method: "GET",
    positional: [{ name: "view", type: "str", help: `${VIEWS.slice(1).join(", ")} (default: per table)`, optional: true }],
    options: { format: { type: "str", help: "json" } },
    examples: ["get operator", "get operator inserts", "get operator summary where format = json", "get operator config"],
    handler(ctx, args) {
      const view = (args.str("view") ?? "tables").toLowerCase();
      if (!(VIEWS as readonly string[]).includes(view)) return fail("bad_option", `'get operator ${view}': the views are ${VIEWS.slice(1).join(", ")}`);
      const proc = ctx.node.processes.get("Operator");
      if (!(proc instanceof Operator)) return fail("internal", "the Operator process is not this build's operator");
      const r = proc.view(view as OperatorView);
      return ok(args.str("format") === "json" ? r.json : r.text);
    },
  }),
);

registerProcess({
  name: "Operator",
  order: 30,
  aliases: ["operator"],
  run: {
    words: ["run", "operator"],
    peer: false,
    summary: "Hosts data: stores files from the watch directory and REST PUTs in local tables",
    options: {
      policy: { type: "str", help: "ID of the operator policy" },
      watch_dir: dirOption("watched"),
      bkup_dir: dirOption("backup"),
      error_dir: dirOption("error"),
      delete_json: boolOption("delete the JSON file after it is stored"),
      compress_json: boolOption("compress the JSON file when it is kept"),
      compress_sql: boolOption("compress the SQL file (this node writes no SQL files)"),
      move_json: boolOption("move the JSON file to the backup directory (the default when not deleted or archived)"),
      move_sql: boolOption("move the SQL file (this node writes no SQL files)"),
      archive: boolOption("move stored files to the archive directory, by day"),
      archive_json: boolOption("archive the JSON files"),
      archive_sql: boolOption("archive the SQL files (this node writes no SQL files)"),
      limit_tables: { type: "list", help: "only these tables" },
      create_table: boolOption("create a missing table from the data (default true)"),
      update_tsd_info: boolOption("record each file in almgm.tsd_info and refuse duplicates (default true)"),
      distributor: boolOption("the data distributor sends what is stored to the cluster's other operators (stored files are archived)"),
      master_node: { type: "ipport", help: "the master node, for the table policies of new tables" },
      master: { type: "ipport", help: "the master node (same as master_node)" },
      threads: { type: "int", help: "workers storing watch-directory files at once, each on a table of its own (default 1)" },
    },
    examples: ["run operator where create_table = true and update_tsd_info = true and archive = true and master_node = !ledger_conn and policy = !operator_id"],
  },
  create: (node) => new Operator(node),
});
