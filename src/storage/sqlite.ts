/**
 * @module storage/sqlite
 * SQLite behind the storage interface (bun:sqlite): one file per logical database under
 * `dbms_dir` (`<name>.dbms`), or in memory; WAL journal so readers do not block the writer.
 */
import { Database as Sqlite } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { type Result, fail, ok } from "../util/result.ts";
import type { ConnectOptions, Database, Row } from "./database.ts";

function sqliteError(db: string, e: unknown): Result<never> {
  const message = e instanceof Error ? e.message : String(e);
  const code = /disk|full|readonly|I\/O/i.test(message) ? "io" : "bad_value";
  return fail(code, `dbms '${db}' (sqlite): ${message}`);
}

export class SqliteDatabase implements Database {
  readonly engine = "sqlite" as const;
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
      handle.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;");
      return ok(new SqliteDatabase(options.name, handle, path));
    } catch (e) {
      return sqliteError(options.name, e);
    }
  }

  async exec(sql: string, params: unknown[] = []): Promise<Result<{ changes: number }>> {
    try {
      const r = this.handle.query(sql).run(...(params as never[])); // query() caches the compiled statement
      return ok({ changes: r.changes });
    } catch (e) {
      return sqliteError(this.name, e);
    }
  }

  async query(sql: string, params: unknown[] = []): Promise<Result<Row[]>> {
    try {
      return ok(this.handle.query(sql).all(...(params as never[])) as Row[]);
    } catch (e) {
      return sqliteError(this.name, e);
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
    this.handle.close();
  }
}
