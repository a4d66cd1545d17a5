/**
 * @module ingest/intake
 * The one way in for rows. Every source — REST PUT, a message client, files of the watch
 * directory, later files from a publisher or a cluster peer — hands its data to the node's
 * intake, which checks the names (and `limit_tables`), hashes the data (the same data twice
 * is stored once), and either
 *   - journals it and acknowledges at once: with a streamer running and no
 *     `write_immediate`, a unit is appended to the journal and fsynced (one fsync for all
 *     that arrived meanwhile), then waits in its buffer for the time/volume thresholds;
 *   - or stores it before answering (`write_immediate`, no streamer, watch-directory files).
 * Stored means durable: `ingestUnits` syncs every commit it makes. A body too big to hold
 * in memory (`putStream`) is spooled to disk chunk by chunk and stored from there.
 * On open, what the journal holds from the previous run is stored first. The ids of broker
 * messages taken lately (kept with them in the journal) let a message client recognise a
 * message its broker sends again because the acknowledgement was lost in a crash. Acknowledged data
 * that turns out to be refused when it is written goes to the error directory with the
 * reason beside it; nothing acknowledged is dropped. Outcomes go to whoever listens
 * (the operator's statistics); the intake never calls into a process.
 */
import { readFileSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { gunzipSync } from "node:zlib";
import type { Node } from "../node/node.ts";
import { writeFileAtomic } from "../util/atomic-file.ts";
import { diskReason, syncDirectory } from "../util/disk.ts";
import { logger } from "../util/log.ts";
import { AnyLogError, type Result, fail, ok } from "../util/result.ts";
import { type BufferReport, type BufferedUnit, StreamingBuffers, bufferThresholds } from "./buffers.ts";
import { ExpectedColumns } from "./expected-columns.ts";
import type { ColumnType } from "./columns.ts";
import { type DataFileName, dataFileName, dataName } from "./file-name.ts";
import { type IngestUnit, type UnitOutcome, ingestUnits, isTransient } from "./ingest.ts";
import { Journal, type JournalStatus } from "./journal.ts";
import { type DataRow, parseRows } from "./rows.ts";
import { SPOOL_OVER_BYTES, removeSpool, spoolBody, spoolToJson } from "./spool.ts";

const log = logger("Intake");

export interface IntakeSettings {
  /** Create a missing table from the data; add columns for new keys. */
  createTable: boolean;
  /** Record units in almgm.tsd_info (exactly once) and refuse a hash stored before. */
  updateTsdInfo: boolean;
  /** Where the `table` policy of a new table is sent. */
  master?: string;
  /** Only these tables (empty: any). */
  limitTables: string[];
  /** Where `mode: file` PUTs are written (the operator's watch directory). */
  watchDir: string;
  /** Where acknowledged data refused when written goes, with `<name>.err.txt`. */
  errorDir: string;
  /** The journal's folder. */
  journalDir: string;
}

/** How a unit was taken: journaled, stored, or written as a watch-directory file. */
export type Accepted = { hash: string; rows: number; via: "journal" | "stored" | "duplicate" | "file" };

/** One unit's final outcome, for listeners (statistics, metrics). */
export interface IntakeEvent {
  dbms: string;
  table: string;
  source: string;
  outcome: UnitOutcome;
}

/** How many message ids the intake remembers (the newest), beside those in its journal. */
const RECENT_MESSAGES = 200_000;

/** Counts per dbms.table for `get streaming`. */
interface TableCounts {
  putFiles: number;
  putRows: number;
  streamingCalls: number;
  streamingRows: number;
  immediate: number;
  lastProcess?: Date;
}

/** The tsd_info hash of data: its dbms.table and its text, so a file and a PUT of the same data agree. */
export function dataHash(dbms: string, table: string, text: string): string {
  return new Bun.CryptoHasher("md5").update(hashPrefix(dbms, table)).update(text).digest("hex");
}

/** What the hash of a unit's data begins with: its dbms.table. */
const hashPrefix = (dbms: string, table: string) => `${dbms.toLowerCase()}.${table.toLowerCase()}\n`;

/** Rows as text, one JSON object per line (big integers with all their digits). */
const rowsText = (rows: DataRow[]) => rows.map((r) => JSON.stringify(r, (_k, v: unknown) => (typeof v === "bigint" ? rawJSON(String(v)) : v))).join("\n");
const rawJSON = (JSON as unknown as { rawJSON(text: string): object }).rawJSON;

function statSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

export class Intake {
  private readonly buffers: StreamingBuffers;
  private readonly expected = new ExpectedColumns();
  private readonly listeners = new Set<(e: IntakeEvent) => void>();
  private readonly counts = new Map<string, TableCounts>();
  /** Ids of the broker messages taken lately, oldest first (a Set keeps insertion order). */
  private readonly recentMessages = new Set<string>();

  private constructor(
    private readonly node: Node,
    readonly settings: IntakeSettings,
    private readonly journal: Journal,
  ) {
    this.buffers = new StreamingBuffers(
      (dbms, table, units) => this.write(dbms, table, units),
      bufferThresholds(node),
      () => this.streamerRuns(),
      (dbms, table, unit, outcome) => this.settled(dbms, table, unit, outcome),
    );
  }

  /** Opens the node's intake: the journal's entries from the previous run are stored (or kept, when the database is away) first. */
  static async open(node: Node, settings: IntakeSettings): Promise<Result<Intake>> {
    const opened = Journal.open(settings.journalDir, bufferThresholds(node).journalBytes);
    if (!opened.ok) return opened;
    const intake = new Intake(node, settings, opened.value.journal);
    const left = opened.value.left;
    intake.rememberMessages(opened.value.messages);
    intake.removeOrphanSpools(new Set(left.flatMap((l) => (l.entry.spooled ? [l.entry.spooled.path] : []))));
    for (const { entry, ref } of left) {
      const rows = entry.spooled ? ok([]) : parseRows(entry.body);
      const unit: BufferedUnit = { hash: entry.hash, rows: rows.ok ? rows.value : [], bytes: entry.body.length, source: entry.source, ref, spooled: entry.spooled, types: entry.types, messages: entry.messages };
      if (!rows.ok) intake.settled(entry.dbms, entry.table, unit, { status: "failed", error: rows.error }, entry.body);
      else intake.buffers.add(entry.dbms, entry.table, unit);
    }
    if (left.length > 0) {
      log.info(`storing ${left.length} acknowledged unit(s) left in the journal by the previous run`);
      await intake.buffers.flushAll();
    }
    return ok(intake);
  }

  /** Why data for `table` is not taken here (limit_tables), or undefined when it is. */
  refusal(table: string): string | undefined {
    const limit = this.settings.limitTables;
    return limit.length > 0 && !limit.includes(table.toLowerCase()) ? `table '${table}' is not in this operator's limit_tables` : undefined;
  }

  /** Data as text (a JSON object, array, or one object per line) for `dbms.table`. */
  async put(body: string, dbms: string, table: string, options: { mode?: "streaming" | "file"; source?: string } = {}): Promise<Result<Accepted>> {
    const names = this.names(dbms, table);
    if (!names.ok) return names;
    const [d, t] = names.value;
    const hash = dataHash(d, t, body);
    const rows = parseRows(body);
    if (!rows.ok) return rows;
    const counts = this.countsOf(d, t);
    if (options.mode === "file") {
      const written = writeFileAtomic(join(this.settings.watchDir, dataFileName(d, t, options.source ?? "rest", hash)), body);
      if (!written.ok) return written;
      counts.putFiles++;
      counts.putRows += rows.value.length;
      return ok({ hash, rows: rows.value.length, via: "file" });
    }
    return this.take(d, t, { hash, rows: rows.value, bytes: body.length, source: options.source ?? "rest" }, body);
  }

  /**
   * A body read as it arrives (a big REST PUT): spooled to disk in chunks of rows, each
   * checked, then taken as `put` takes text. Memory stays within a few chunks.
   */
  async putStream(body: ReadableStream<Uint8Array>, dbms: string, table: string, options: { mode?: "streaming" | "file"; source?: string } = {}): Promise<Result<Accepted>> {
    const names = this.names(dbms, table);
    if (!names.ok) return names;
    const [d, t] = names.value;
    const db = this.node.databases.require(d);
    if (!db.ok) return db;
    const journaled = options.mode !== "file" && this.journals(d, t);
    const admit = journaled ? (rows: DataRow[]) => this.expected.admit(db.value, t, rows) : async () => ok(undefined);
    const source = options.source ?? "rest";
    // mode: file: the body as sent, written beside the spool under a name the watcher ignores, then renamed in
    const copy = options.mode === "file" ? join(this.settings.watchDir, `.${Date.now()}-${process.pid}.put.tmp`) : undefined;
    const spooled = await spoolBody(body, this.spoolDir, hashPrefix(d, t), admit, copy);
    if (!spooled.ok) {
      if (journaled) this.expected.forget(d, t);
      return spooled;
    }
    const { hash, spooled: sp } = spooled.value;
    const counts = this.countsOf(d, t);
    if (copy) {
      removeSpool(sp.path);
      try {
        renameSync(copy, join(this.settings.watchDir, dataFileName(d, t, source, hash)));
        syncDirectory(this.settings.watchDir);
      } catch (e) {
        rmSync(copy, { force: true });
        return fail("io", `cannot write the PUT's file in ${this.settings.watchDir}: ${diskReason(e)}`);
      }
      counts.putFiles++;
      counts.putRows += sp.rows;
      return ok({ hash, rows: sp.rows, via: "file" });
    }
    const taken = await this.take(d, t, { hash, rows: [], bytes: statSize(sp.path), source, spooled: sp }, "");
    if (!taken.ok || taken.value.via !== "journal") removeSpool(sp.path); // stored (or refused) before the answer
    return taken;
  }

  /**
   * Rows already parsed (a message client's), for `dbms.table`. `types`: the column types
   * its mapping declares; `messages`: the ids of the broker messages they came in, which
   * `holdsMessage` knows once this succeeds; `unique`: a name of this delivery that goes
   * into its hash, so equal rows sent again are stored again (two equal readings are two
   * readings; a message sent again by its broker is known by its id instead); `hash`: the
   * hash the data has elsewhere (a unit a cluster peer sent keeps its hash on every member).
   */
  async putRows(dbms: string, table: string, rows: DataRow[], source: string, extra: { types?: Map<string, ColumnType>; messages?: string[]; unique?: string; hash?: string } = {}): Promise<Result<Accepted>> {
    const names = this.names(dbms, table);
    if (!names.ok) return names;
    const [d, t] = names.value;
    const body = rowsText(rows);
    const parsed = parseRows(body); // the same names and checks as text
    if (!parsed.ok) return parsed;
    const { types, messages, unique } = extra;
    const hash = extra.hash ?? dataHash(d, t, unique === undefined ? body : `${unique}\n${body}`);
    const taken = await this.take(d, t, { hash, rows: parsed.value, bytes: body.length, source, ...(types ? { types } : {}), ...(messages ? { messages } : {}) }, body);
    if (taken.ok && messages) this.rememberMessages(messages);
    return taken;
  }

  /** Whether the broker message `id` was taken lately (by `putRows`), here or before a restart. */
  holdsMessage(id: string): boolean {
    return this.recentMessages.has(id);
  }

  private rememberMessages(ids: string[]): void {
    for (const id of ids) this.recentMessages.add(id);
    const over = this.recentMessages.size - RECENT_MESSAGES;
    if (over <= 0) return;
    let n = 0;
    for (const id of this.recentMessages) {
      if (n++ >= over) break;
      this.recentMessages.delete(id);
    }
  }

  /**
   * A data file as a unit (the watch directory's): read whole, or, past SPOOL_OVER_BYTES,
   * spooled chunk by chunk so a big file is never held in memory. `name` is its parsed name.
   */
  async readFile(path: string, name: DataFileName): Promise<Result<IngestUnit>> {
    const { dbms, table, source, instructions, compressed } = name;
    let size: number;
    try {
      size = statSync(path).size;
    } catch (e) {
      return fail("io", `cannot read ${basename(path)}: ${diskReason(e)}`);
    }
    if (size <= (compressed ? SPOOL_OVER_BYTES / 8 : SPOOL_OVER_BYTES)) {
      let text: string;
      try {
        const bytes = readFileSync(path);
        text = (compressed ? gunzipSync(bytes) : bytes).toString("utf8");
      } catch (e) {
        return fail(compressed ? "bad_value" : "io", `cannot read ${basename(path)}: ${diskReason(e)}`);
      }
      const rows = parseRows(text);
      if (!rows.ok) return fail("bad_value", `${basename(path)}: ${rows.error.message}`);
      return ok({ hash: dataHash(dbms, table, text), source, instructions, rows: rows.value });
    }
    let stream: ReadableStream<Uint8Array> = Bun.file(path).stream();
    if (compressed) stream = stream.pipeThrough(new DecompressionStream("gzip") as unknown as ReadableWritablePair<Uint8Array, Uint8Array>); // (lib.dom types it over BufferSource)
    const spooled = await spoolBody(stream, this.spoolDir, hashPrefix(dbms, table), async () => ok(undefined));
    if (!spooled.ok) return fail(spooled.error.code, `${basename(path)}: ${spooled.error.message}`);
    return ok({ hash: spooled.value.hash, source, instructions, rows: [], spooled: spooled.value.spooled });
  }

  /** Stores units of one table at once (watch-directory files: the file itself is their journal). */
  async store(dbms: string, table: string, units: IngestUnit[]): Promise<UnitOutcome[]> {
    const outcomes = await this.ingest(dbms, table, units);
    for (const u of units) if (u.spooled) removeSpool(u.spooled.path); // the file stays until it is stored
    units.forEach((u, i) => this.emit({ dbms, table, source: u.source, outcome: outcomes[i]! }));
    return outcomes;
  }

  /** A new bound for the journal (`set buffer threshold where journal_size = ...`). */
  resizeJournal(bytes: number): void {
    this.journal.maxBytes = bytes;
  }

  /** Writes every buffer now. */
  flushAll(): Promise<void> {
    return this.buffers.flushAll();
  }

  /** Listens to every unit's final outcome; returns the function that stops listening. */
  onOutcome(listener: (e: IntakeEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Writes the buffers, then closes the journal (what could not be stored stays in it for the next start). */
  async close(): Promise<void> {
    await this.buffers.flushAll();
    this.buffers.stop();
    await this.journal.close();
  }

  /** What `get streaming` shows: per table, and the journal. */
  report(): { tables: Array<BufferReport & Partial<TableCounts>>; journal: JournalStatus } {
    const byTable = new Map<string, BufferReport & Partial<TableCounts>>();
    for (const b of this.buffers.report()) byTable.set(`${b.dbms}.${b.table}`, b);
    for (const [key, c] of this.counts) {
      const [dbms = "", table = ""] = key.split(".");
      const b = byTable.get(key);
      byTable.set(key, { ...(b ?? { dbms, table, cachedRows: 0, cachedBytes: 0, flushes: 0, rowsStored: 0, thresholds: bufferThresholds(this.node).for(dbms, table) }), ...c });
    }
    return { tables: [...byTable.values()].sort((a, b) => `${a.dbms}.${a.table}`.localeCompare(`${b.dbms}.${b.table}`)), journal: this.journal.status() };
  }

  /** The dbms and table names checked (and in lower case), or why not. */
  private names(dbms: string, table: string): Result<[string, string]> {
    const d = dataName("database", dbms);
    if (!d.ok) return d;
    const t = dataName("table", table);
    if (!t.ok) return t;
    if (!this.node.databases.get(d.value)) return fail("not_found", `dbms '${dbms}' is not connected on this node`);
    const outside = this.refusal(t.value);
    if (outside) return fail("bad_value", outside);
    return ok([d.value, t.value]);
  }

  /**
   * A streaming unit: journaled and acknowledged, or stored before the answer. A unit of
   * broker messages is journaled even when it is stored before the answer: their ids must
   * survive a crash (see `holdsMessage`); while its database is away it waits, in the
   * journal, and its sender waits with it.
   */
  private async take(dbms: string, table: string, unit: BufferedUnit, body: string): Promise<Result<Accepted>> {
    const counts = this.countsOf(dbms, table);
    const rows = unit.spooled?.rows ?? unit.rows.length;
    const acknowledged = this.journals(dbms, table);
    if (!acknowledged && !unit.messages?.length) {
      const outcome = await new Promise<UnitOutcome>((resolve) => this.buffers.add(dbms, table, { ...unit, waiter: resolve }));
      if (outcome.status === "failed") return { ok: false, error: outcome.error }; // bad data 400, a full disk 500, a database down 503
      counts.streamingCalls++;
      counts.streamingRows += rows;
      counts.immediate++;
      return ok({ hash: unit.hash, rows: outcome.rows, via: outcome.status });
    }
    if (!unit.spooled) {
      // (a spooled body's chunks were admitted as they were read)
      const db = this.node.databases.require(dbms);
      if (!db.ok) return db;
      const admitted = await this.expected.admit(db.value, table, unit.rows, unit.types);
      if (!admitted.ok) return admitted;
    }
    const ref = await this.journal.append({ dbms, table, hash: unit.hash, source: unit.source, body, spooled: unit.spooled, types: unit.types, messages: unit.messages });
    if (!ref.ok) {
      this.expected.forget(dbms, table); // the types this unit gave new keys are not coming
      return ref;
    }
    counts.streamingCalls++;
    counts.streamingRows += rows;
    if (acknowledged) {
      this.buffers.add(dbms, table, { ...unit, ref: ref.value });
      return ok({ hash: unit.hash, rows, via: "journal" });
    }
    const outcome = await new Promise<UnitOutcome>((resolve) => this.buffers.add(dbms, table, { ...unit, ref: ref.value, waiter: resolve }));
    counts.immediate++;
    if (outcome.status === "failed") return { ok: false, error: outcome.error };
    return ok({ hash: unit.hash, rows: outcome.rows, via: outcome.status });
  }

  /** Whether units for this table are journaled and acknowledged (a streamer runs, no write_immediate), or stored before the answer. */
  private journals(dbms: string, table: string): boolean {
    return this.streamerRuns() && !bufferThresholds(this.node).for(dbms, table).writeImmediate;
  }

  /** Whether buffers wait for their thresholds: a streamer runs (`run streamer`). */
  private streamerRuns(): boolean {
    return this.node.processes.get("Streamer")?.status() === "Running";
  }

  private get spoolDir(): string {
    return join(this.settings.journalDir, "spool");
  }

  /** Spool files no journal entry refers to: left by a crash while a body was read, never acknowledged. */
  private removeOrphanSpools(referenced: Set<string>): void {
    let names: string[] = [];
    try {
      names = readdirSync(this.spoolDir);
    } catch {
      return; // no spool folder yet
    }
    for (const name of names) {
      const path = join(this.spoolDir, name);
      if (!referenced.has(path)) removeSpool(path);
    }
  }

  private async write(dbms: string, table: string, units: BufferedUnit[]): Promise<UnitOutcome[]> {
    if (!this.node.databases.get(dbms)) {
      // acknowledged rows are not the data's fault: they wait (in the journal) for the dbms
      const error = new AnyLogError("unavailable", `dbms '${dbms}' is not connected: the rows wait for 'connect dbms ${dbms} ...'`);
      return units.map(() => ({ status: "failed", error }));
    }
    const outcomes = await this.ingest(dbms, table, units);
    this.countsOf(dbms, table).lastProcess = new Date();
    // read the columns again once nothing waits (or when a write refused data); not while the
    // database is away, or every PUT would try to reach it
    const refused = outcomes.some((o) => o.status === "failed" && !isTransient(o.error));
    const away = outcomes.some((o) => o.status === "failed" && isTransient(o.error));
    if (refused || (!away && this.buffers.pendingRows(dbms, table) === 0)) this.expected.forget(dbms, table);
    return outcomes;
  }

  private async ingest(dbms: string, table: string, units: IngestUnit[]): Promise<UnitOutcome[]> {
    const s = this.settings;
    const r = await ingestUnits(this.node, dbms, table, units, { createTable: s.createTable, updateTsdInfo: s.updateTsdInfo, master: s.master });
    return r.ok ? r.value : units.map((): UnitOutcome => ({ status: "failed", error: r.error }));
  }

  /** A buffered unit's final outcome: out of the journal (refused data to the error directory first). */
  private settled(dbms: string, table: string, unit: BufferedUnit, outcome: UnitOutcome, body?: string): void {
    if (unit.ref) {
      if (outcome.status === "failed" && !unit.waiter) {
        // (one that is waited for is refused to its sender instead)
        const kept = this.keepRefused(dbms, table, unit, outcome.error.message, body);
        if (!kept) return; // stays in the journal: stored or set aside at the next start
      }
      this.journal.done(unit.ref);
      if (unit.spooled) removeSpool(unit.spooled.path);
    }
    this.emit({ dbms, table, source: unit.source, outcome });
  }

  /** Acknowledged data that cannot be stored: into the error directory, with the reason beside it. */
  private keepRefused(dbms: string, table: string, unit: BufferedUnit, reason: string, body?: string): boolean {
    const name = dataFileName(dbms, table, unit.source, unit.hash);
    const target = join(this.settings.errorDir, name);
    const written = unit.spooled ? spoolToJson(unit.spooled.path, target) : writeFileAtomic(target, body ?? rowsText(unit.rows));
    const why = written.ok ? writeFileAtomic(join(this.settings.errorDir, `${name}.err.txt`), `${reason}\n`) : written;
    if (!why.ok) {
      log.error(`acknowledged data for ${dbms}.${table} was refused (${reason}) and could not be set aside: ${why.error.message}`);
      return false;
    }
    log.warn(`acknowledged data for ${dbms}.${table} was refused when stored: ${name} -> error directory: ${reason}`);
    return true;
  }

  private emit(e: IntakeEvent): void {
    for (const l of this.listeners) l(e);
  }

  private countsOf(dbms: string, table: string): TableCounts {
    const key = `${dbms}.${table}`;
    let c = this.counts.get(key);
    if (!c) this.counts.set(key, (c = { putFiles: 0, putRows: 0, streamingCalls: 0, streamingRows: 0, immediate: 0 }));
    return c;
  }
}

/** The intake of each node while an operator runs. */
const intakes = new WeakMap<Node, Intake>();

/** The node's intake, or undefined when no operator runs. */
export function intakeOf(node: Node): Intake | undefined {
  return intakes.get(node);
}

/** Opens the node's intake (the operator's start); one per node. */
export async function openIntake(node: Node, settings: IntakeSettings): Promise<Result<Intake>> {
  if (intakes.has(node)) return fail("conflict", "the node's intake is already open");
  const r = await Intake.open(node, settings);
  if (!r.ok) return r;
  intakes.set(node, r.value);
  const journal = () => intakeOf(node)?.report().journal;
  node.metrics.gauge("anylog_journal_bytes", "Bytes in the intake's journal: acknowledged rows not yet stored, and stored ones whose segment is not yet removed.", () => journal()?.bytes ?? 0);
  node.metrics.gauge("anylog_journal_limit_bytes", "The journal's bound: past it streaming PUTs answer 503.", () => journal()?.maxBytes ?? 0);
  node.metrics.gauge("anylog_journal_pending_units", "Acknowledged units (PUT bodies) in the journal not yet stored.", () => journal()?.pending ?? 0);
  return r;
}

/** Closes the node's intake (the operator's stop): buffers written, journal closed. */
export async function closeIntake(node: Node): Promise<void> {
  const intake = intakes.get(node);
  intakes.delete(node);
  await intake?.close();
}

/** The answer to a caller with no intake to take its data. */
export const NO_OPERATOR = "no operator running on this node: start one with 'run operator'";
