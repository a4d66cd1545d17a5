/**
 * @module storage/sqlite
 * SQLite behind the storage interface (bun:sqlite): one file per logical database under
 * `dbms_dir` (`<name>.dbms`), or in memory; WAL journal so readers do not block the writer.
 */
import { Database as Sqlite, type Statement } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { join } from "node:path";
import { GroupCommit } from "../util/group-commit.ts";
import { columnsOf, nextPage, plainValue, rowsOf } from "./sqlite-values.ts";
import { type Result, fail, ok } from "../util/result.ts";
import { type ConnectOptions, type Database, type PagedRead, type ReadAnswer, type ReadLimits, type Row, wholeRead } from "./database.ts";
import { pagesInWorker, queryWorkersInUse } from "./query-worker.ts";

// query() keeps compiled statements, 20 by default: an operator writing batches of varied
// sizes into several tables (an INSERT text per row count) recompiled all the time; 200
// took a tenth off such a load (a few MiB of statements at most).
Sqlite.MAX_QUERY_CACHE_SIZE = 200;

function sqliteError(db: string, e: unknown): Result<never> {
  const message = e instanceof Error ? e.message : String(e);
  // the disk and locks are causes outside the data: the caller may try again later
  const code = /disk|full|readonly|I\/O/i.test(message) ? "io" : /locked|busy/i.test(message) ? "unavailable" : "bad_value";
  return fail(code, `dbms '${db}' (sqlite): ${message}`);
}



export class SqliteDatabase implements Database {
  readonly engine = "sqlite" as const;

  get cacheKey(): object {
    return this.handle;
  }
  /** Transactions run one after another: the connection has one writer. */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly name: string,
    readonly handle: Sqlite,
    private readonly path: string,
    /** This object is the view of an open transaction: `transaction` joins it. */
    private readonly inTransaction = false,
  ) {}

  static open(options: ConnectOptions): Result<SqliteDatabase> {
    try {
      let path = ":memory:";
      if (!options.memory) {
        mkdirSync(options.directory, { recursive: true });
        path = join(options.directory, `${options.name}.dbms`);
      }
      const handle = new Sqlite(path, { create: true, strict: true });
      // WAL checkpoints every 64 MiB instead of SQLite's 4 MiB: each one copies pages back
      // and syncs the file, and fewer, larger ones took a seventh off the ingest path
      // (bench/ingest.ts), with fewer syncs on SD cards. journal_size_limit keeps the WAL
      // file from staying bigger than that after a long transaction.
      handle.exec(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000; PRAGMA wal_autocheckpoint = 16384; PRAGMA journal_size_limit = 67108864;",
      );
      return ok(new SqliteDatabase(options.name, handle, path));
    } catch (e) {
      return sqliteError(options.name, e);
    }
  }

  async exec(sql: string, params: unknown[] = []): Promise<Result<{ changes: number }>> {
    try {
      // query() caches the compiled statement; the parameters go as one array (no spread of thousands)
      const r = this.handle.query(sql).run(params as never);
      return ok({ changes: r.changes });
    } catch (e) {
      return sqliteError(this.name, e);
    }
  }

  async query(sql: string, params: unknown[] = []): Promise<Result<Row[]>> {
    try {
      return ok(this.handle.query(sql).all(params as never) as Row[]);
    } catch (e) {
      return sqliteError(this.name, e);
    }
  }

  async read(sql: string, limits?: ReadLimits): Promise<Result<ReadAnswer>> {
    if (limits) return wholeRead(this.readPaged(sql, limits), limits.maxBytes);
    return this.readHere(sql);
  }

  async *readPaged(sql: string, limits: ReadLimits): PagedRead {
    // a user's query on a file: in a query worker, so it cannot hold the node (storage/query-worker)
    if (this.path !== ":memory:" && queryWorkersInUse()) {
      let unavailable = false;
      for await (const page of pagesInWorker(this.path, sql, limits)) {
        // no worker can start on this machine: read here, as before workers
        if (!page.ok && page.error.code === "unavailable") unavailable = true;
        else yield page.ok ? page : fail(page.error.code, `dbms '${this.name}' (sqlite): ${page.error.message}`);
      }
      if (!unavailable) return;
    }
    if (this.path === ":memory:") {
      yield this.readHere(sql); // one connection only: the whole result at once
      return;
    }
    // a connection of its own, read-only, so the pages can be read between other work
    let handle: Sqlite | undefined;
    let stmt: Statement | undefined;
    try {
      handle = new Sqlite(this.path, { readonly: true });
      stmt = handle.prepare(sql);
      stmt.safeIntegers(true);
      if (stmt.columnNames.length === 0) {
        yield fail("bad_value", `dbms '${this.name}' (sqlite): the statement returns no rows: not a query`);
        return;
      }
      const columns = columnsOf(stmt);
      const rows = rowsOf(stmt);
      for (let page = nextPage(rows); ; page = nextPage(rows)) {
        yield ok({ columns, rows: page.rows });
        if (page.done) return;
      }
    } catch (e) {
      yield sqliteError(this.name, e);
    } finally {
      stmt?.finalize();
      handle?.close();
    }
  }

  /** A read on this node's connection, whole, with writes refused. */
  private readHere(sql: string): Result<ReadAnswer> {
    // Synchronous from here to the end, so no other statement on this connection runs while
    // query_only is on.
    const wasQueryOnly = Boolean(this.handle.prepare("PRAGMA query_only").values()[0]?.[0]);
    try {
      this.handle.exec("PRAGMA query_only = ON");
      const stmt = this.handle.prepare(sql);
      // integers as bigint, so one beyond 2^53 reads back with every digit (plainValue)
      stmt.safeIntegers(true);
      try {
        if (stmt.columnNames.length === 0) return fail("bad_value", `dbms '${this.name}' (sqlite): the statement returns no rows: not a query`);
        const rows = (stmt.values() as unknown[][]).map((r) => r.map(plainValue));
        return ok({ columns: columnsOf(stmt), rows });
      } finally {
        stmt.finalize();
      }
    } catch (e) {
      return sqliteError(this.name, e);
    } finally {
      if (!wasQueryOnly) this.handle.exec("PRAGMA query_only = OFF");
    }
  }

  async transaction<T>(work: (tx: Database) => Promise<Result<T>>): Promise<Result<T>> {
    if (this.inTransaction) return work(this);
    const run = this.queue.then(() => this.runTransaction(work));
    this.queue = run.catch(() => {});
    return run;
  }

  private async runTransaction<T>(work: (tx: Database) => Promise<Result<T>>): Promise<Result<T>> {
    const tx = new SqliteDatabase(this.name, this.handle, this.path, true);
    try {
      this.handle.exec("BEGIN IMMEDIATE");
      const r = await work(tx);
      this.handle.exec(r.ok ? "COMMIT" : "ROLLBACK");
      return r;
    } catch (e) {
      try {
        this.handle.exec("ROLLBACK");
      } catch {
        // the transaction may already be gone with the error
      }
      return sqliteError(this.name, e);
    }
  }

  /** Syncs the write-ahead log (every commit so far is in it), one sync for all who asked meanwhile. */
  /** The write-ahead log, kept open for its syncs (SQLite removes it only when the connection closes). */
  private wal?: FileHandle;
  private readonly logSync = new GroupCommit(async (): Promise<Result<void>> => {
    if (this.path === ":memory:") return ok(undefined);
    try {
      this.wal ??= await open(`${this.path}-wal`, "r");
    } catch (e) {
      // no log: nothing was written since the last checkpoint, which synced the file itself
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return ok(undefined);
      return sqliteError(this.name, e);
    }
    try {
      await this.wal.datasync();
      return ok(undefined);
    } catch (e) {
      await this.wal.close().catch(() => {});
      this.wal = undefined; // opened again by the next sync
      return sqliteError(this.name, e);
    }
  });

  durable(): Promise<Result<void>> {
    return this.logSync.request();
  }

  async lockWriters(_table: string): Promise<Result<void>> {
    return ok(undefined); // BEGIN IMMEDIATE took the write lock of the whole database
  }

  async tableExists(table: string): Promise<Result<boolean>> {
    const r = await this.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", [table]);
    return r.ok ? ok(r.value.length > 0) : r;
  }

  async tables(): Promise<Result<string[]>> {
    const r = await this.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name");
    return r.ok ? ok(r.value.map((row) => String(row.name))) : r;
  }

  describe(): string {
    return this.path === ":memory:" ? "sqlite in memory" : `sqlite ${this.path}`;
  }

  async close(): Promise<void> {
    await this.queue;
    await this.wal?.close().catch(() => {});
    this.wal = undefined;
    this.handle.close();
  }
}
