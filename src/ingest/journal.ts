/**
 * @module ingest/journal
 * The intake's on-disk journal: rows acknowledged but not yet stored in their database.
 * An entry is appended to the current segment file and acknowledged once the file is
 * fsynced, one fsync shared by every entry appended meanwhile (group commit). A segment is
 * removed when every entry in it is stored durably (the caller says so with `done`). On
 * open, the entries of the segments left by the previous run are handed back to be stored
 * again (a torn record at a segment's end, never acknowledged, is cut off). The journal is
 * bounded: past `maxBytes` an append is refused, and nothing already in it is dropped.
 *
 * Segment files are `<dir>/<12-digit sequence>.jrn`; a record is
 * `u32 length | u32 crc32 | JSON {d: dbms, t: table, h: hash, s: source, b: body}`, and for
 * a spooled body `f: spool file, n: rows, y: [[column, type], ...]` instead of its text;
 * `c: [[column, type], ...]` the column types its sender declared (a message client's mapping),
 * `m: [id, ...]` the ids of the broker messages the entry holds.
 *
 * A segment whose entries hold message ids is not removed when they are all stored: it is
 * renamed `<seq>.kept` and removed KEEP_MS later. A broker that did not get the node's
 * acknowledgement before a crash sends those messages again (DUP); the ids read back from
 * `.kept` and `.jrn` files at the next open let the node recognise them.
 */
import { closeSync, fdatasync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { GroupCommit } from "../util/group-commit.ts";
import type { ColumnType } from "./columns.ts";
import type { SpooledRows } from "./spool.ts";
import { diskReason, syncDirectoryAsync, writeFully } from "../util/disk.ts";
import { type Result, errorText, fail, ok } from "../util/result.ts";

export interface JournalEntry {
  dbms: string;
  table: string;
  /** The tsd_info hash of the data (what makes storing it twice a no-op). */
  hash: string;
  source: string;
  /** The data as text (a JSON object, array, or one object per line); empty when spooled. */
  body: string;
  /** A big body's spool file (already fsynced), instead of its text. */
  spooled?: SpooledRows;
  /** Column types the sender declared (IngestUnit.types). */
  types?: Map<string, ColumnType>;
  /** The broker messages it holds (their ids), to recognise one sent again. */
  messages?: string[];
}

/** Where an entry is, for `done`. */
export interface JournalRef {
  readonly segment: number;
}

interface Segment {
  seq: number;
  path: string;
  /** Open for appends (the newest segment only). */
  fd?: number;
  /** Bytes in the file, and entries in it and stored since. */
  bytes: number;
  entries: number;
  done: number;
  /** Takes no more entries; removed once every entry is done. */
  sealed: boolean;
  /** When its first entry was written. */
  since: Date;
  /** Some entry holds message ids: kept a while once stored. */
  messages: boolean;
}

/** A segment takes new entries up to this size, then the next one begins. */
const SEGMENT_BYTES = 4 * 1024 * 1024;
/** A segment whose entries are all stored is closed at once past this size, else by the idle timer. */
const ROTATE_DONE_BYTES = 1024 * 1024;
const IDLE_ROTATE_MS = 5_000;
/** How long a stored segment holding message ids stays (as `.kept`): longer than a broker takes to send again what it was not acknowledged. */
const KEEP_MS = 60_000;
const HEADER = 8;

/** fdatasync off the event loop's thread. */
const syncFd = (fd: number) => new Promise<void>((resolve, reject) => fdatasync(fd, (e) => (e ? reject(e) : resolve())));

export interface JournalStatus {
  bytes: number;
  maxBytes: number;
  segments: number;
  /** Entries written and not yet stored. */
  pending: number;
  /** When the oldest segment that still holds entries not stored was begun. */
  oldestPending?: Date;
}

export class Journal {
  private readonly segments = new Map<number, Segment>();
  private active?: Segment;
  /** Segments written to since the last fsync. */
  private dirty = new Set<Segment>();
  /** Segments whose fdatasync is under way: their files stay open until it ends. */
  private syncing = new Set<Segment>();
  private readonly sync = new GroupCommit(() => this.flush());
  private idleTimer?: ReturnType<typeof setInterval>;
  private closed = false;
  /** A segment file was created since the last fsync: the folder is synced with the next flush, so its name survives a power cut with its records. */
  private newFile = false;
  /** Stored segments holding message ids, and when each goes. */
  private readonly kept: Array<{ path: string; until: number }> = [];
  /** The newest segment's sequence number (names are never reused). */
  private lastSeq = 0;

  private constructor(
    readonly dir: string,
    public maxBytes: number,
    /** fdatasync of a segment's file (a test may slow it down to widen a race). */
    private readonly syncFile: (fd: number) => Promise<void> = syncFd,
  ) {}

  /**
   * Opens the journal in `dir`; `left` are the entries a previous run did not store, oldest
   * first; `messages` the ids of every message the journal holds or kept (stored or not).
   */
  static open(dir: string, maxBytes: number, syncFile?: (fd: number) => Promise<void>): Result<{ journal: Journal; left: Array<{ entry: JournalEntry; ref: JournalRef }>; messages: string[] }> {
    const journal = new Journal(dir, maxBytes, syncFile);
    const left: Array<{ entry: JournalEntry; ref: JournalRef }> = [];
    const messages: string[] = [];
    try {
      mkdirSync(dir, { recursive: true });
      const names = readdirSync(dir);
      for (const file of names.filter((f) => /^\d{12}\.kept$/.test(f))) {
        const path = join(dir, file);
        for (const entry of readSegment(path).entries) messages.push(...(entry.messages ?? []));
        journal.kept.push({ path, until: Date.now() + KEEP_MS });
      }
      const files = names.filter((f) => /^\d{12}\.jrn$/.test(f)).sort();
      for (const file of files) {
        const seq = Number(file.slice(0, 12));
        journal.lastSeq = Math.max(journal.lastSeq, seq);
        const path = join(dir, file);
        const { entries, validBytes, totalBytes } = readSegment(path);
        if (validBytes < totalBytes) {
          // a record cut short by a crash: it was never acknowledged
          const fd = openSync(path, "r+");
          try {
            ftruncateSync(fd, validBytes);
            fsyncSync(fd);
          } finally {
            closeSync(fd);
          }
        }
        if (entries.length === 0) {
          rmSync(path, { force: true });
          continue;
        }
        const held = entries.flatMap((e) => e.messages ?? []);
        messages.push(...held);
        const segment: Segment = { seq, path, bytes: validBytes, entries: entries.length, done: 0, sealed: true, since: statSync(path).mtime, messages: held.length > 0 };
        journal.segments.set(seq, segment);
        for (const entry of entries) left.push({ entry, ref: { segment: seq } });
      }
    } catch (e) {
      return fail("io", `cannot open the journal in ${dir}: ${errorText(e)}`);
    }
    journal.idleTimer = setInterval(() => {
      journal.rotateIfDone(0);
      journal.removeKept(Date.now());
    }, IDLE_ROTATE_MS);
    journal.idleTimer.unref?.();
    return ok({ journal, left, messages });
  }

  /** Appends an entry; resolves once it is on disk (or with why not: the journal is full, the disk failed). */
  async append(entry: JournalEntry): Promise<Result<JournalRef>> {
    if (this.closed) return fail("unavailable", "the journal is closed: the operator is stopping");
    const sp = entry.spooled;
    const spool = sp ? { f: sp.path, n: sp.rows, y: [...sp.types] } : {};
    const declared = entry.types ? { c: [...entry.types] } : {};
    const messages = entry.messages?.length ? { m: entry.messages } : {};
    const payload = Buffer.from(JSON.stringify({ d: entry.dbms, t: entry.table, h: entry.hash, s: entry.source, b: entry.body, ...spool, ...declared, ...messages }), "utf8");
    const record = Buffer.allocUnsafe(HEADER + payload.length);
    record.writeUInt32LE(payload.length, 0);
    record.writeUInt32LE(Bun.hash.crc32(payload), 4);
    payload.copy(record, HEADER);
    if (this.bytes + record.length > this.maxBytes) {
      this.rotateIfDone(0);
      if (this.bytes + record.length > this.maxBytes) {
        return fail(
          "unavailable",
          `the journal is full (${mb(this.bytes)} of ${mb(this.maxBytes)} MB of rows not yet stored: is the database down?); send the data again later`,
        );
      }
    }
    const segment = this.writable();
    if (!segment.ok) return segment;
    const s = segment.value;
    const written = appendRecord(s, record);
    if (!written.ok) return written;
    s.entries++;
    if (entry.messages?.length) s.messages = true;
    this.dirty.add(s);
    const synced = await this.sync.request();
    if (!synced.ok) return synced;
    return ok({ segment: s.seq });
  }

  /** The entry is stored durably in its database: its segment goes once all of its entries are. */
  done(ref: JournalRef): void {
    const s = this.segments.get(ref.segment);
    if (!s) return;
    s.done++;
    if (s.sealed) this.removeIfDone(s);
    else this.rotateIfDone(ROTATE_DONE_BYTES);
  }

  get bytes(): number {
    let n = 0;
    for (const s of this.segments.values()) n += s.bytes;
    return n;
  }

  status(): JournalStatus {
    let pending = 0;
    let oldest: Date | undefined;
    for (const s of [...this.segments.values()].sort((a, b) => a.seq - b.seq)) {
      pending += s.entries - s.done;
      if (s.entries > s.done) oldest ??= s.since;
    }
    return { bytes: this.bytes, maxBytes: this.maxBytes, segments: this.segments.size, pending, oldestPending: oldest };
  }

  /** Syncs and closes the files; entries not done stay for the next open. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.idleTimer);
    await this.sync.request();
    for (const s of this.segments.values()) {
      if (s.fd !== undefined) closeSync(s.fd);
      s.fd = undefined;
      if (s.entries === s.done) this.retire(s);
    }
    this.segments.clear();
  }

  /** The segment that takes the next entry: the active one, or a new one past SEGMENT_BYTES. */
  private writable(): Result<Segment> {
    if (this.active && !this.active.sealed && this.active.bytes < SEGMENT_BYTES) return ok(this.active);
    if (this.active) this.seal(this.active);
    const seq = ++this.lastSeq;
    const path = join(this.dir, `${String(seq).padStart(12, "0")}.jrn`);
    try {
      const fd = openSync(path, "a", 0o600);
      this.newFile = true;
      const s: Segment = { seq, path, fd, bytes: 0, entries: 0, done: 0, sealed: false, since: new Date(), messages: false };
      this.segments.set(seq, s);
      this.active = s;
      return ok(s);
    } catch (e) {
      return fail("io", `cannot write the journal in ${this.dir}: ${diskReason(e)}`);
    }
  }

  /** The active segment stops taking entries (its file is closed after its last sync). */
  private seal(s: Segment): void {
    s.sealed = true;
    if (this.active === s) this.active = undefined;
    if (!this.dirty.has(s) && !this.syncing.has(s)) this.closeFile(s);
    this.removeIfDone(s);
  }

  /** Starts a new segment when every entry of the active one is stored and it holds `minBytes` or more. */
  private rotateIfDone(minBytes: number): void {
    const a = this.active;
    if (a && a.entries > 0 && a.done === a.entries && a.bytes >= minBytes) this.seal(a);
  }

  private removeIfDone(s: Segment): void {
    if (!s.sealed || s.done < s.entries || this.dirty.has(s) || this.syncing.has(s)) return;
    this.closeFile(s);
    this.segments.delete(s.seq);
    this.retire(s);
  }

  /** A segment whose entries are all stored: removed, or kept a while when it holds message ids. */
  private retire(s: Segment): void {
    if (s.messages) {
      const path = s.path.replace(/\.jrn$/, ".kept");
      try {
        renameSync(s.path, path);
        this.kept.push({ path, until: Date.now() + KEEP_MS });
        return;
      } catch {
        // (cannot keep it: removed, as a segment without messages is)
      }
    }
    rmSync(s.path, { force: true });
  }

  /** Removes the kept segments whose time is up. */
  private removeKept(now: number): void {
    while (this.kept.length > 0 && this.kept[0]!.until <= now) rmSync(this.kept.shift()!.path, { force: true });
  }

  private closeFile(s: Segment): void {
    if (s.fd === undefined) return;
    closeSync(s.fd);
    s.fd = undefined;
  }

  /** fsyncs every segment written to since the last time (the group commit's one flush). */
  private async flush(): Promise<Result<void>> {
    const segments = [...this.dirty];
    this.dirty = new Set();
    const newFile = this.newFile;
    this.newFile = false;
    // a segment sealed while its sync runs (its entries stored meanwhile) is closed after it, not under it
    for (const s of segments) this.syncing.add(s);
    try {
      for (const s of segments) if (s.fd !== undefined) await this.syncFile(s.fd);
      if (newFile) await syncDirectoryAsync(this.dir);
      return ok(undefined);
    } catch (e) {
      this.newFile ||= newFile; // (the folder is synced again with the next flush)
      return fail("io", `cannot sync the journal in ${this.dir}: ${diskReason(e)}`);
    } finally {
      for (const s of segments) {
        this.syncing.delete(s);
        if (s.sealed) {
          this.closeFile(s);
          this.removeIfDone(s);
        }
      }
    }
  }
}

/** Writes a whole record at the end of a segment; a failed write is cut off again so no torn record stays before later ones. */
function appendRecord(s: Segment, record: Buffer): Result<void> {
  const before = s.bytes;
  try {
    writeFully(s.fd!, record);
    s.bytes += record.length;
    return ok(undefined);
  } catch (e) {
    try {
      ftruncateSync(s.fd!, before);
    } catch {
      s.sealed = true; // cannot cut it off: no record may follow the torn one
    }
    return fail("io", `cannot write the journal: ${diskReason(e)}`);
  }
}

/** The records of a segment file, up to the first that is cut short or damaged. */
function readSegment(path: string): { entries: JournalEntry[]; validBytes: number; totalBytes: number } {
  const data = readFileSync(path);
  const entries: JournalEntry[] = [];
  let off = 0;
  while (off + HEADER <= data.length) {
    const length = data.readUInt32LE(off);
    const crc = data.readUInt32LE(off + 4);
    if (off + HEADER + length > data.length) break;
    const payload = data.subarray(off + HEADER, off + HEADER + length);
    if (Bun.hash.crc32(payload) !== crc) break;
    let parsed: { d?: unknown; t?: unknown; h?: unknown; s?: unknown; b?: unknown; f?: unknown; n?: unknown; y?: unknown; c?: unknown; m?: unknown };
    try {
      parsed = JSON.parse(payload.toString("utf8"));
    } catch {
      break;
    }
    const { d, t, h, s, b, f, n, y, c, m } = parsed;
    if (typeof d !== "string" || typeof t !== "string" || typeof h !== "string" || typeof b !== "string") break;
    const spooled = typeof f === "string" && typeof n === "number" && Array.isArray(y) ? { path: f, rows: n, types: new Map(y as Array<[string, ColumnType]>) } : undefined;
    const types = Array.isArray(c) ? new Map(c as Array<[string, ColumnType]>) : undefined;
    const messages = Array.isArray(m) ? m.filter((x): x is string => typeof x === "string") : undefined;
    entries.push({ dbms: d, table: t, hash: h, source: typeof s === "string" ? s : "rest", body: b, spooled, ...(types ? { types } : {}), ...(messages ? { messages } : {}) });
    off += HEADER + length;
  }
  return { entries, validBytes: off, totalBytes: data.length };
}



const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);
