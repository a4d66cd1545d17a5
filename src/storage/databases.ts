/**
 * @module storage/databases
 * The logical databases a node has connected (`connect dbms`), by name. The PostgreSQL
 * side (the `postgres` driver, with node:net, node:tls, ...) loads on the first
 * `connect dbms ... where type = psql`, so a SQLite node never carries it.
 */
import { type Result, fail, ok } from "../util/result.ts";
import type { ConnectOptions, Database } from "./database.ts";
import { SqliteDatabase } from "./sqlite.ts";

export class Databases {
  private readonly byName = new Map<string, Database>();
  private readonly connecting = new Map<string, Promise<Result<Database>>>();

  get(name: string): Database | undefined {
    return this.byName.get(name.toLowerCase());
  }

  /** The database `name`, or an error that says how to connect it. */
  require(name: string): Result<Database> {
    const db = this.get(name);
    return db ? ok(db) : fail("not_found", `dbms '${name}' is not connected: run 'connect dbms ${name} where type = sqlite' (or psql) first`);
  }

  /** Connects a logical database; connecting one already connected with the same engine changes nothing. */
  async connect(options: ConnectOptions): Promise<Result<Database>> {
    const key = options.name.toLowerCase();
    const existing = this.byName.get(key);
    if (existing) {
      if (existing.engine !== options.engine) {
        return fail("conflict", `dbms '${options.name}' is already connected as ${existing.engine}; 'disconnect dbms ${options.name}' first`);
      }
      return ok(existing);
    }
    const pending = this.connecting.get(key);
    if (pending) return pending;
    const opening = (async (): Promise<Result<Database>> => {
      const opened = options.engine === "sqlite" ? SqliteDatabase.open(options) : await (await import("./postgres.ts")).PostgresDatabase.open(options);
      if (opened.ok) this.byName.set(key, opened.value);
      return opened;
    })();
    this.connecting.set(key, opening);
    try {
      return await opening;
    } finally {
      this.connecting.delete(key);
    }
  }

  async disconnect(name: string): Promise<Result<void>> {
    const db = this.byName.get(name.toLowerCase());
    if (!db) return fail("not_found", `dbms '${name}' is not connected`);
    this.byName.delete(name.toLowerCase());
    await db.close();
    return ok(undefined);
  }

  list(): Database[] {
    return [...this.byName.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  async closeAll(): Promise<void> {
    for (const db of this.byName.values()) await db.close().catch(() => {});
    this.byName.clear();
  }
}
