/**
 * @module ingest/buffers
 * Streaming buffers: units of rows wait here per dbms.table and are stored together when
 * the buffer reaches its volume, its time, or at once (`write_immediate`, a unit someone
 * waits for, or no streamer running). Units that arrive while a buffer is being written go
 * into the next write. A unit already acknowledged (in the journal) that fails for a cause
 * outside the data (the database is down, the disk is full) stays in its buffer and is
 * tried again, after 1 s and then twice as long each time, up to 5 s: a try while the
 * database is away fails at once (a refused connection), and the data flows again within
 * seconds of its return.
 * Thresholds: `set buffer threshold where ...`, kept per node across operator restarts.
 */
import { nodeSlot } from "../node/slot.ts";
import { AnyLogError } from "../util/result.ts";
import type { JournalRef } from "./journal.ts";
import type { ColumnType } from "./columns.ts";
import type { SpooledRows } from "./spool.ts";
import { type UnitOutcome, isTransient } from "./ingest.ts";
import type { DataRow } from "./rows.ts";

export interface Thresholds {
  /** Seconds a row may wait. */
  time: number;
  /** Bytes of data after which the buffer is written. */
  volume: number;
  writeImmediate: boolean;
}

/** AnyLog's volume default; a short time, as the embedded default node sets. */
export const DEFAULT_THRESHOLDS: Thresholds = { time: 1, volume: 10 * 1024, writeImmediate: false };

/** How much acknowledged data the journal may hold before PUTs are refused with 503. */
export const DEFAULT_JOURNAL_BYTES = 64 * 1024 * 1024;

/** A unit of rows (one PUT body, one message) on its way to its table. */
export interface BufferedUnit {
  hash: string;
  rows: DataRow[];
  bytes: number;
  source: string;
  /** A big body's spool file (then `rows` is empty). */
  spooled?: SpooledRows;
  /** Column types its sender declared (IngestUnit.types). */
  types?: Map<string, ColumnType>;
  /** The ids of the broker messages it holds (journaled with it). */
  messages?: string[];
  /** In the journal: acknowledged, so kept through outages until it is stored. */
  ref?: JournalRef;
  /** Someone waits for it to be stored (write_immediate, no streamer). */
  waiter?: (outcome: UnitOutcome) => void;
}

/** Stores a batch of units of one table; one outcome per unit, in order. */
export type BatchWriter = (dbms: string, table: string, units: BufferedUnit[]) => Promise<UnitOutcome[]>;

/** Hears the final outcome of each unit (stored, a duplicate, or refused for good). */
export type SettledListener = (dbms: string, table: string, unit: BufferedUnit, outcome: UnitOutcome) => void;

interface Buffer {
  dbms: string;
  table: string;
  waiting: BufferedUnit[];
  bytes: number;
  rows: number;
  timer?: ReturnType<typeof setTimeout>;
  /** When the timer fires (time left in `get streaming`). */
  due?: number;
  flushing?: Promise<void>;
  flushes: number;
  stored: number;
  lastFlush?: Date;
  /** The wait before the next try after an outage, and why it failed. */
  retryMs?: number;
  lastError?: string;
}

const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 5_000;

/** The thresholds of a node, set before or after the operator starts: default, per dbms, per table. */
export class BufferThresholds {
  private readonly byScope = new Map<string, Thresholds>([["", { ...DEFAULT_THRESHOLDS }]]);
  /** The journal's bound (`set buffer threshold where journal_size = ...`). */
  journalBytes = DEFAULT_JOURNAL_BYTES;

  set(scope: { dbms?: string; table?: string }, change: Partial<Thresholds>): void {
    const key = scope.dbms ? (scope.table ? `${scope.dbms}.${scope.table}` : scope.dbms) : "";
    this.byScope.set(key, { ...this.for(scope.dbms ?? "", scope.table ?? ""), ...change });
  }

  /** Every scope set ("" is the default, then "dbms" or "dbms.table"). */
  scopes(): Array<[string, Thresholds]> {
    return [...this.byScope];
  }

  for(dbms: string, table: string): Thresholds {
    return this.byScope.get(`${dbms}.${table}`) ?? this.byScope.get(dbms) ?? this.byScope.get("")!;
  }
}

/** The buffer thresholds of a node. */
export const bufferThresholds = nodeSlot(() => new BufferThresholds());

/** What `get streaming` shows of one buffer. */
export interface BufferReport {
  dbms: string;
  table: string;
  cachedRows: number;
  cachedBytes: number;
  flushes: number;
  rowsStored: number;
  thresholds: Thresholds;
  /** Seconds until the time threshold writes the buffer (undefined: no timer). */
  timeLeft?: number;
  lastFlush?: Date;
  lastError?: string;
}

export class StreamingBuffers {
  private readonly buffers = new Map<string, Buffer>();

  constructor(
    private readonly write: BatchWriter,
    private readonly thresholds: BufferThresholds,
    /** Whether buffers wait for their thresholds (a streamer runs); else every unit is written at once. */
    private readonly timed: () => boolean,
    private readonly settled: SettledListener,
  ) {}

  /** Adds a unit; it is written when its buffer's threshold says (at once when someone waits for it). */
  add(dbms: string, table: string, unit: BufferedUnit): void {
    const key = `${dbms}.${table}`;
    let b = this.buffers.get(key);
    if (!b) {
      b = { dbms, table, waiting: [], bytes: 0, rows: 0, flushes: 0, stored: 0 };
      this.buffers.set(key, b);
    }
    b.waiting.push(unit);
    b.bytes += unit.bytes;
    b.rows += unit.spooled?.rows ?? unit.rows.length;
    if (b.retryMs !== undefined && !unit.waiter) return; // the database is away: the retry timer writes it
    const t = this.thresholds.for(dbms, table);
    if (unit.waiter || !this.timed() || t.writeImmediate || b.bytes >= t.volume) void this.flush(b);
    else if (!b.timer) this.later(b, t.time * 1000);
  }

  private later(b: Buffer, ms: number): void {
    clearTimeout(b.timer);
    b.due = Date.now() + ms;
    b.timer = setTimeout(() => void this.flush(b), ms);
  }

  /** Writes one buffer now; a write under way is followed by one more for what came meanwhile. */
  private flush(b: Buffer): Promise<void> {
    clearTimeout(b.timer);
    b.timer = undefined;
    b.due = undefined;
    const run = async () => {
      while (b.waiting.length > 0) {
        const batch = b.waiting.splice(0);
        b.bytes = 0;
        b.rows = 0;
        const outcomes = await this.write(b.dbms, b.table, batch);
        b.flushes++;
        b.lastFlush = new Date();
        const kept: BufferedUnit[] = [];
        batch.forEach((unit, i) => {
          const o: UnitOutcome = outcomes[i] ?? { status: "failed", error: new AnyLogError("internal", "the writer gave no outcome for this unit") };
          if (o.status === "failed" && isTransient(o.error) && unit.ref) {
            // journaled: kept until its database takes it (one waited for is answered then)
            kept.push(unit);
            b.lastError = o.error.message;
            return;
          }
          if (o.status === "stored") b.stored += o.rows;
          this.settled(b.dbms, b.table, unit, o);
          unit.waiter?.(o);
        });
        if (kept.length > 0) {
          b.waiting.unshift(...kept);
          for (const u of kept) {
            b.bytes += u.bytes;
            b.rows += u.spooled?.rows ?? u.rows.length;
          }
          b.retryMs = Math.min(RETRY_MAX_MS, (b.retryMs ?? RETRY_FIRST_MS / 2) * 2);
          this.later(b, b.retryMs);
          return;
        }
        b.retryMs = undefined;
      }
    };
    b.flushing = (b.flushing ?? Promise.resolve()).then(run).finally(() => {
      if (b.waiting.length === 0) b.flushing = undefined;
    });
    return b.flushing;
  }

  /** Writes every buffer now (`flush buffers`, shutdown, a streamer stopping). */
  async flushAll(): Promise<void> {
    await Promise.all([...this.buffers.values()].map((b) => this.flush(b)));
  }

  /** Stops the timers (the journal keeps what was not written). */
  stop(): void {
    for (const b of this.buffers.values()) {
      clearTimeout(b.timer);
      b.timer = undefined;
    }
  }

  /** Rows waiting for `dbms.table` (0 when none). */
  pendingRows(dbms: string, table: string): number {
    return this.buffers.get(`${dbms}.${table}`)?.rows ?? 0;
  }

  report(): BufferReport[] {
    return [...this.buffers.values()].map((b) => ({
      dbms: b.dbms,
      table: b.table,
      cachedRows: b.rows,
      cachedBytes: b.bytes,
      flushes: b.flushes,
      rowsStored: b.stored,
      thresholds: this.thresholds.for(b.dbms, b.table),
      timeLeft: b.due === undefined ? undefined : Math.max(0, (b.due - Date.now()) / 1000),
      lastFlush: b.lastFlush,
      lastError: b.lastError,
    }));
  }
}
