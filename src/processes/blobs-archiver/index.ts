/**
 * @module processes/blobs-archiver
 * The Blobs Archiver (`run blobs archiver where dbms = true and folder = false and compress =
 * false and reuse_blobs = true`): takes the JSON data files that reference blobs from
 * `bwatch_dir` (`<dbms>.<table>[.<...>].json`, one row per line or a JSON array), stores each
 * blob the rows reference in the dbms's blobs database and/or date folders (blobs/archive),
 * puts the blob's id in its place and passes the rows to the operator's intake. A column
 * references a blob as `{"blob": "<file beside the JSON file, or a path>"}` or
 * `{"base64": "<bytes>", "extension": "png"}`. Blobs go first, so a row never names a blob
 * that is not stored; a file taken again after a crash stores nothing twice (same id and
 * hash, and the intake's hash of the rows). Then the JSON file and the blob files beside it
 * are deleted; a file whose data is wrong goes to the error directory with its reason; one
 * that waits on a database or the operator is tried again.
 */
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { basename, dirname, isAbsolute, join } from "node:path";
import { archiveBlob, archiverSettings, type ArchiveSettings } from "../../blobs/archive.ts";
import { blobsFolder } from "../../blobs/stores.ts";
import type { Args } from "../../commands/spec.ts";
import { FileDisposal } from "../../files/disposal.ts";
import { WatchedDirectory } from "../../files/watched-dir.ts";
import { dataName } from "../../ingest/file-name.ts";
import { NO_OPERATOR, intakeOf } from "../../ingest/intake.ts";
import type { Node } from "../../node/node.ts";
import { toBool } from "../../language/bind.ts";
import { type AnyLogError, type Result, errorText, fail, ok } from "../../util/result.ts";
import { type NodeProcess, type ProcessStatus, registerProcess } from "../registry.ts";

/** A file that waits (a database or the operator away) is tried again after this long. */
const RETRY_MS = 2000;

interface Counts {
  files: number;
  rows: number;
  blobs: number;
  reused: number;
  errors: number;
}

/** A `true`/`false` option; any other text (seed 003's `dbms = !mydb`, a dbms name) means true. */
function flag(args: Args, keys: string[], fallback: boolean): boolean {
  for (const k of keys) {
    if (!args.has(k)) continue;
    const b = toBool(args.str(k, ""));
    return b ?? args.str(k, "").trim() !== "";
  }
  return fallback;
}

const transient = (e: AnyLogError) => e.code === "unavailable" || e.code === "io" || e.code === "timeout";

class BlobsArchiver implements NodeProcess {
  private watched?: WatchedDirectory;
  private disposal?: FileDisposal;
  private settings?: ArchiveSettings & { bwatchDir: string; blobsDir: string };
  private counts: Counts = { files: 0, rows: 0, blobs: 0, reused: 0, errors: 0 };
  private lastError?: string;
  private queue: Promise<void> = Promise.resolve();
  private readonly retries = new Set<ReturnType<typeof setTimeout>>();
  private stopping = false;

  constructor(private readonly node: Node) {}

  async start(args: Args): Promise<Result<string>> {
    const home = this.node.dictionary.lookup("anylog_path") ?? ".";
    const d = (key: string) => args.str(key) ?? this.node.dictionary.lookup(key) ?? join(home, "data", key);
    const s = {
      dbms: flag(args, ["dbms"], true),
      folder: flag(args, ["folder", "file"], false),
      compress: flag(args, ["compress"], false),
      reuse: flag(args, ["reuse_blobs", "reuse"], false),
      bwatchDir: d("bwatch_dir"),
      blobsDir: d("blobs_dir"),
    };
    if (!s.dbms && !s.folder) return fail("bad_option", "'run blobs archiver' keeps blobs nowhere with dbms = false and folder = false: set one of them to true");
    const errorDir = this.node.dictionary.lookup("err_dir") ?? join(home, "data", "err_dir");
    for (const p of [s.bwatchDir, s.blobsDir, errorDir]) {
      try {
        mkdirSync(p, { recursive: true });
      } catch (e) {
        return fail("io", `cannot create ${p}: ${errorText(e)}`);
      }
    }
    this.settings = s;
    this.stopping = false;
    this.counts = { files: 0, rows: 0, blobs: 0, reused: 0, errors: 0 };
    this.lastError = undefined;
    archiverSettings(this.node).current = s;
    blobsFolder(this.node).dir = s.blobsDir;
    this.disposal = new FileDisposal({ stored: { to: "delete" }, compress: false, errorDir });
    const watched = new WatchedDirectory({
      directory: s.bwatchDir,
      accept: (path) => /\.json$/i.test(path) && !basename(path).startsWith("."),
      onSettled: (path) => {
        this.queue = this.queue.then(() => this.take(path));
      },
      onError: (m) => this.note(`watching ${s.bwatchDir}: ${m}`),
    });
    this.watched = watched;
    const ready = await watched.start();
    if (!ready.ok) {
      await this.stop();
      return ready;
    }
    return ok(this.details());
  }

  private note(message: string): void {
    this.lastError = `${new Date().toISOString()} ${message}`;
    this.node.log.warn(`Blobs Archiver: ${message}`);
  }

  /** Takes one JSON file: its blobs, then its rows, then it leaves the directory. */
  private async take(path: string): Promise<void> {
    if (this.stopping) return;
    const done = await this.archive(path);
    if (done.ok) {
      this.counts.files++;
      this.watched?.release(path);
      return;
    }
    this.counts.errors++;
    this.note(`${basename(path)}: ${done.error.message}`);
    if (transient(done.error)) {
      // the file stays: taken again once a listing sees it after the wait
      const t = setTimeout(() => {
        this.retries.delete(t);
        this.watched?.release(path);
      }, RETRY_MS);
      this.retries.add(t);
      return;
    }
    this.disposal?.refused(path, done.error.message);
    this.watched?.release(path);
  }

  private async archive(path: string): Promise<Result<void>> {
    const name = basename(path);
    const parts = name.replace(/\.json$/i, "").split(".");
    if (parts.length < 2) return fail("bad_value", `'${name}' does not name its dbms and table: <dbms>.<table>[.<...>].json`);
    const dbms = dataName("database", parts[0]!);
    if (!dbms.ok) return dbms;
    const table = dataName("table", parts[1]!);
    if (!table.ok) return table;
    const intake = intakeOf(this.node);
    if (!intake) return fail("unavailable", NO_OPERATOR);
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (e) {
      return fail("io", `cannot read it: ${errorText(e)}`);
    }
    const rows = parseRows(text);
    if (!rows.ok) return rows;
    const used: string[] = [];
    for (const row of rows.value) {
      for (const [column, value] of Object.entries(row)) {
        const ref = blobRef(value, dirname(path));
        if (!ref) continue;
        if (!ref.ok) return fail("bad_value", `column '${column}': ${ref.error.message}`);
        const put = await archiveBlob(this.node, ref.value.source, { dbms: dbms.value, table: table.value, extension: ref.value.extension });
        if (!put.ok) return fail(put.error.code, `column '${column}': ${put.error.message}`);
        if (put.value.reused) this.counts.reused++;
        else this.counts.blobs++;
        row[column] = put.value.info.id;
        if (ref.value.sibling) used.push(ref.value.sibling);
      }
    }
    const stored = await intake.put(rows.value.map((r) => JSON.stringify(r)).join("\n"), dbms.value, table.value, { source: name });
    if (!stored.ok) return stored;
    this.counts.rows += stored.value.rows;
    const gone = this.disposal?.stored(path);
    if (gone && !gone.ok) return gone;
    for (const f of used) rmSync(f, { force: true });
    return ok(undefined);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const t of this.retries) clearTimeout(t);
    this.retries.clear();
    await this.watched?.stop();
    await this.queue;
    this.watched = undefined;
    archiverSettings(this.node).current = undefined;
    blobsFolder(this.node).dir = undefined;
  }

  status(): ProcessStatus {
    return this.watched ? "Running" : "Not declared";
  }

  details(): string {
    const s = this.settings;
    if (!this.watched || !s) return "";
    const where = [s.dbms ? "dbms" : "", s.folder ? `folder${s.compress ? " (gzip)" : ""}` : ""].filter(Boolean).join(" + ");
    return `Watching: ${s.bwatchDir}, Blobs to: ${where}, Files: ${this.counts.files}, Blobs: ${this.counts.blobs}`;
  }

  info(): Record<string, unknown> {
    const s = this.settings;
    return {
      status: this.status(),
      bwatch_dir: s?.bwatchDir,
      blobs_dir: s?.blobsDir,
      dbms: s?.dbms,
      folder: s?.folder,
      compress: s?.compress,
      reuse_blobs: s?.reuse,
      files_processed: this.counts.files,
      rows: this.counts.rows,
      blobs_stored: this.counts.blobs,
      blobs_reused: this.counts.reused,
      errors: this.counts.errors,
      last_error: this.lastError ?? null,
    };
  }
}

/** The rows of a JSON data file: a JSON array, one object, or one object per line. */
function parseRows(text: string): Result<Array<Record<string, unknown>>> {
  const t = text.trim();
  if (t === "") return fail("bad_value", "the file is empty");
  const isRow = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
  try {
    const whole: unknown = JSON.parse(t);
    if (Array.isArray(whole) && whole.every(isRow)) return ok(whole);
    if (isRow(whole)) return ok([whole]);
  } catch {
    // one object per line
  }
  const rows: Array<Record<string, unknown>> = [];
  for (const [i, line] of t.split("\n").entries()) {
    if (line.trim() === "") continue;
    try {
      const v: unknown = JSON.parse(line);
      if (!isRow(v)) return fail("bad_value", `line ${i + 1} is not a JSON object`);
      rows.push(v);
    } catch {
      return fail("bad_value", `line ${i + 1} is not JSON`);
    }
  }
  return ok(rows);
}

type Ref = { source: { path: string } | { bytes: Uint8Array }; extension?: string; sibling?: string };

/** A column value that references a blob, checked; undefined for any other value. */
function blobRef(value: unknown, dir: string): Result<Ref> | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const v = value as Record<string, unknown>;
  const extension = typeof v.extension === "string" ? v.extension : undefined;
  if (typeof v.blob === "string") {
    const file = v.blob;
    if (!isAbsolute(file) && (file.includes("/") || file.startsWith("."))) return fail("bad_value", `'${file}' is not a file beside the JSON file (or an absolute path)`);
    const path = isAbsolute(file) ? file : join(dir, file);
    return ok({ source: { path }, extension: extension ?? (/\.([A-Za-z0-9]{1,10})$/.exec(file)?.[1]?.toLowerCase() ?? undefined), sibling: isAbsolute(file) ? undefined : path });
  }
  if (typeof v.base64 === "string") {
    const bytes = Buffer.from(v.base64, "base64");
    if (bytes.length === 0 && v.base64.trim() !== "") return fail("bad_value", "its base64 text decodes to nothing");
    return ok({ source: { bytes }, extension });
  }
  return undefined;
}

registerProcess({
  name: "Blobs Archiver",
  order: 80,
  aliases: ["blobs archiver", "archiver"],
  run: {
    words: ["run", "blobs", "archiver"],
    peer: false,
    summary: "Stores blobs (images, video, sound) in a blobs database and/or folders, and the rows that reference them through the operator",
    options: {
      dbms: { type: "any", help: "use the dbms's blobs database (true/false; a dbms name means true)" },
      folder: { type: "bool", help: "also keep blobs in date folders under blobs_dir" },
      file: { type: "bool", help: "same as folder" },
      compress: { type: "bool", help: "gzip blobs kept in folders" },
      reuse_blobs: { type: "bool", help: "store a repeated blob (same md5) once and reference it again" },
      reuse: { type: "bool", help: "same as reuse_blobs" },
      bwatch_dir: { type: "str", help: "where the JSON files that reference blobs arrive (default !bwatch_dir)" },
      blobs_dir: { type: "str", help: "the blobs folder (default !blobs_dir)" },
    },
    examples: ["run blobs archiver where dbms = true and folder = false and compress = false and reuse_blobs = true"],
  },
  create: (node) => new BlobsArchiver(node),
});
