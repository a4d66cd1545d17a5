/**
 * @module storage/database
 * The one storage interface. A logical database (`almgm`, `blockchain`, a data dbms) is a
 * `Database` whatever engine holds it; SQLite (`storage/sqlite.ts`) and PostgreSQL
 * (`storage/postgres.ts`) implement it. SQL text uses `?` placeholders everywhere;
 * the PostgreSQL side numbers them. Failures are error values naming the database.
 */
import { type Result, fail, ok } from "../util/result.ts";

export type Engine = "sqlite" | "psql";

export type Row = Record<string, unknown>;

/**
 * What the values of a read column are, whatever the engine: `timestamp` values are text in UTC
 * ('YYYY-MM-DD HH:MM:SS[.ffffff]' from PostgreSQL, as stored in SQLite), `date` values
 * 'YYYY-MM-DD'; `unknown` is an expression whose type the engine does not declare (SQLite).
 */
export type ValueKind = "number" | "text" | "bool" | "timestamp" | "date" | "json" | "unknown";

/**
 * Bounds of a user's query (`sql`): stopped past `timeoutMs` of run time or when `signal`
 * aborts (the asking node gave up), refused past `maxBytes` of result held whole.
 */
export interface ReadLimits {
  timeoutMs: number;
  maxBytes: number;
  signal?: AbortSignal;
}

export type Column = { name: string; kind: ValueKind };

/** The answer of `read`: columns in order, and each row as values in the same order. */
export interface ReadAnswer {
  columns: Column[];
  /** Values are numbers, text, booleans, parsed JSON or null; never engine objects. */
  rows: unknown[][];
}

/**
 * A read's rows a page at a time (`readPaged`): each page carries the columns; an error is the
 * last item. Stopping early (`return()`, `break`) ends the query and frees what it held.
 */
export type PagedRead = AsyncGenerator<Result<ReadAnswer>, void, void>;

/** A page of a paged read ends once its values pass this size (the last row may pass it). */
export const PAGE_BYTES = 256 * 1024;

/** About how many bytes a row's values take (text by its length, anything else as 8). */
export function rowBytes(row: unknown[]): number {
  let n = 0;
  for (const v of row) n += typeof v === "string" ? v.length : 8;
  return n;
}

/** A paged read held whole: an error once its rows pass `maxBytes` (the read is stopped there). */
export async function wholeRead(pages: PagedRead, maxBytes: number): Promise<Result<ReadAnswer>> {
  let columns: Column[] = [];
  const rows: unknown[][] = [];
  let bytes = 0;
  for await (const page of pages) {
    if (!page.ok) return page;
    columns = page.value.columns;
    for (const row of page.value.rows) {
      bytes += rowBytes(row);
      if (bytes > maxBytes) {
        await pages.return();
        return fail("bad_value", `the result is larger than ${maxBytes} bytes (max_volume): ask for fewer rows or columns`);
      }
      rows.push(row);
    }
  }
  return ok({ columns, rows });
}

/**
 * A table or column name as an SQL identifier, quoted the way both engines read it: data
 * keys such as "group", "order" or "user" are SQL keywords, and names are kept in lower case.
 */
export function quoteName(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

export interface Database {
  /** The logical name (`almgm`, `blockchain`, ...). */
  readonly name: string;
  readonly engine: Engine;
  /** The same object for a database and its transaction views (for per-connection caches). */
  readonly cacheKey: object;
  /** Runs a statement; `changes` is the number of rows it touched. */
  exec(sql: string, params?: unknown[]): Promise<Result<{ changes: number }>>;
  /** Runs a query and returns its rows. */
  query(sql: string, params?: unknown[]): Promise<Result<Row[]>>;
  /**
   * Runs one statement that must change nothing (what `sql` runs for users). The engine itself
   * refuses a write: SQLite runs it with `query_only`, PostgreSQL in a READ ONLY transaction
   * with one statement only. Big integers and decimals become numbers when that loses nothing.
   * With `limits` (a user's query) it is stopped past its time, off the node's event loop.
   */
  read(sql: string, limits?: ReadLimits): Promise<Result<ReadAnswer>>;
  /** `read` a page at a time (pages of about PAGE_BYTES), for results too large to hold whole. */
  readPaged(sql: string, limits: ReadLimits): PagedRead;
  /** Runs `work` in one transaction: all of it commits, or none of it. */
  transaction<T>(work: (tx: Database) => Promise<Result<T>>): Promise<Result<T>>;
  /**
   * Inside a transaction: other writers of `table`, in this process or another, wait until it
   * ends (readers go on). What taking `max(id) + 1` needs. SQLite's transactions already
   * hold the database's write lock; PostgreSQL locks the table.
   */
  lockWriters(table: string): Promise<Result<void>>;
  /**
   * Makes every transaction committed so far survive a power cut (what the journal waits
   * for before it forgets rows). PostgreSQL's commits already are; SQLite in WAL mode with
   * `synchronous = NORMAL` syncs its log only at checkpoints, so its log is synced here,
   * once for every caller that asked meanwhile.
   */
  durable(): Promise<Result<void>>;
  /** Whether a table exists. */
  tableExists(table: string): Promise<Result<boolean>>;
  /** Names of the tables. */
  tables(): Promise<Result<string[]>>;
  /** Where it lives, for `get databases` (no secrets). */
  describe(): string;
  close(): Promise<void>;
}

/** Connection settings of `connect dbms`. */
export interface ConnectOptions {
  name: string;
  engine: Engine;
  /** SQLite: the folder of database files. */
  directory: string;
  memory?: boolean;
  host?: string;
  port?: number;
  user?: string;
  password?: string;
}
