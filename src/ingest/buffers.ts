/**
 * @module ingest/buffers
 * Streaming buffers: REST PUTs in streaming mode wait here per dbms.table and are stored
 * together when the buffer reaches its volume, its time, or at once (`write_immediate`).
 * A PUT is answered only when its rows are committed; PUTs that arrive while a buffer is
 * being written go into the next one. Thresholds: `set buffer threshold where ...`.
 */
import { type Result, fail, ok } from "../util/result.ts";
import type { DataRow } from "./rows.ts";
import type { UnitOutcome } from "./ingest.ts";

export interface Thresholds {
  /** Seconds a row may wait. */
  time: number;
  /** Bytes of data after which the buffer is written. */
  volume: number;
  writeImmediate: boolean;
}

/** AnyLog's volume default; the time default is short because a PUT waits for its commit. */
export const DEFAULT_THRESHOLDS: Thresholds = { time: 1, volume: 10 * 1024, writeImmediate: false };

interface Waiting {
  hash: string;
  rows: DataRow[];
  bytes: number;
  done(outcome: UnitOutcome): void;
}

/** Writes a batch of units for one table (the operator's `ingestUnits`). */
export type BatchWriter = (dbms: string, table: string, units: Array<{ hash: string; rows: DataRow[] }>) => Promise<Result<UnitOutcome[]>>;

interface Buffer {
  dbms: string;
  table: string;
  waiting: Waiting[];
  bytes: number;
  timer?: ReturnType<typeof setTimeout>;
  flushing?: Promise<void>;
  flushes: number;
  rows: number;
}

/** The thresholds of a node, set before or after the operator starts: default, per dbms, per table. */
export class BufferThresholds {
  private readonly byScope = new Map<string, Thresholds>([["", { ...DEFAULT_THRESHOLDS }]]);

  set(scope: { dbms?: string; table?: string }, change: Partial<Thresholds>): void {
    const key = scope.dbms ? (scope.table ? `${scope.dbms}.${scope.table}` : scope.dbms) : "";
    this.byScope.set(key, { ...this.for(scope.dbms ?? "", scope.table ?? ""), ...change });
  }

  for(dbms: string, table: string): Thresholds {
    return this.byScope.get(`${dbms}.${table}`) ?? this.byScope.get(dbms) ?? this.byScope.get("")!;
  }
}

export class StreamingBuffers {
  private readonly buffers = new Map<string, Buffer>();
  /** Off: every PUT is written at once (no streamer to wait for time). */
  timed = false;

  constructor(
    private readonly write: BatchWriter,
    private readonly thresholds: BufferThresholds,
  ) {}

  thresholdsFor(dbms: string, table: string): Thresholds {
    return this.thresholds.for(dbms, table);
  }

  /** Adds a PUT's rows; resolves when they are stored (or refused). */
  put(dbms: string, table: string, hash: string, rows: DataRow[], bytes: number): Promise<UnitOutcome> {
    const key = `${dbms}.${table}`;
    let b = this.buffers.get(key);
    if (!b) {
      b = { dbms, table, waiting: [], bytes: 0, flushes: 0, rows: 0 };
      this.buffers.set(key, b);
    }
    const buffer = b;
    const outcome = new Promise<UnitOutcome>((done) => buffer.waiting.push({ hash, rows, bytes, done }));
    buffer.bytes += bytes;
    const t = this.thresholdsFor(dbms, table);
    if (!this.timed || t.writeImmediate || buffer.bytes >= t.volume) void this.flush(buffer);
    else if (!buffer.timer) buffer.timer = setTimeout(() => void this.flush(buffer), t.time * 1000);
    return outcome;
  }

  /** Writes one buffer now; a write under way is followed by one more for what came meanwhile. */
  private flush(b: Buffer): Promise<void> {
    clearTimeout(b.timer);
    b.timer = undefined;
    const run = async () => {
      while (b.waiting.length > 0) {
        const batch = b.waiting.splice(0);
        b.bytes = 0;
        const r = await this.write(b.dbms, b.table, batch.map((w) => ({ hash: w.hash, rows: w.rows })));
        b.flushes++;
        batch.forEach((w, i) => {
          const o: UnitOutcome = r.ok ? r.value[i]! : { status: "failed", error: r.error };
          if (o.status === "stored") b.rows += o.rows;
          w.done(o);
        });
      }
    };
    b.flushing = (b.flushing ?? Promise.resolve()).then(run).finally(() => {
      if (b.waiting.length === 0) b.flushing = undefined;
    });
    return b.flushing;
  }

  /** Writes every buffer now (`flush buffers`, shutdown). */
  async flushAll(): Promise<void> {
    await Promise.all([...this.buffers.values()].map((b) => this.flush(b)));
  }

  report(): Array<Record<string, unknown>> {
    return [...this.buffers.values()].map((b) => {
      const t = this.thresholdsFor(b.dbms, b.table);
      return {
        dbms: b.dbms,
        table: b.table,
        waiting_puts: b.waiting.length,
        waiting_bytes: b.bytes,
        flushes: b.flushes,
        rows_stored: b.rows,
        threshold_time: t.time,
        threshold_volume: t.volume,
        write_immediate: t.writeImmediate,
      };
    });
  }
}

/** "10KB", "2MB", "500" (bytes). */
export function parseVolume(text: string): Result<number> {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|k|mb|m|gb|g)?\s*$/i.exec(text);
  if (!m) return fail("bad_value", `'${text}' is not a volume such as 10KB or 2MB`);
  const unit = (m[2] ?? "b").toLowerCase();
  const scale = unit.startsWith("k") ? 1024 : unit.startsWith("m") ? 1024 ** 2 : unit.startsWith("g") ? 1024 ** 3 : 1;
  return ok(Math.round(Number(m[1]) * scale));
}
