/**
 * @module storage/postgres
 * PostgreSQL behind the storage interface (the `postgres` package). Each logical database
 * is a PostgreSQL database of the same name on the server, created on first connect.
 */
import postgres from "postgres";
import { type ErrorCode, type Result, fail, ok } from "../util/result.ts";
import { TextCache } from "../util/text-cache.ts";
import { movedBytes } from "../util/garbage.ts";
import { type Column, type ConnectOptions, type Database, type PagedRead, type ReadAnswer, type ReadLimits, type Row, type ValueKind, quoteName, wholeRead } from "./database.ts";

type Sql = postgres.Sql | postgres.TransactionSql;

/**
 * `?` placeholders to `$1, $2, ...` and `?NNN` to `$NNN` (SQLite's numbered form), leaving
 * quoted text alone. Texts repeat (the same INSERT for every batch), so answers are kept.
 */
const numbered = new TextCache(8 * 1024 * 1024);
export function numberPlaceholders(sql: string): string {
  return numbered.get(sql, () => numberedText(sql));
}

function numberedText(sql: string): string {
  let n = 0;
  let out = "";
  let quote: string | undefined;
  for (let i = 0; i < sql.length; i++) {
    const c = sql[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === "?") {
      let digits = "";
      while (i + 1 < sql.length && sql[i + 1]! >= "0" && sql[i + 1]! <= "9") digits += sql[++i];
      out += `$${digits || ++n}`;
      continue;
    }
    out += c;
  }
  return out;
}

/**
 * The error code of a failure: the server out of reach, shutting down, in a deadlock or out
 * of resources is a cause outside the data (`unavailable`, `io` for a full disk), which
 * the caller may try again; the rest is about the statement or its values.
 */
function pgErrorCode(code: string | undefined): ErrorCode {
  if (code === "53100") return "io";
  if (code === undefined) return "bad_value";
  if (/^(ECONN|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|EPIPE|CONNECT_TIMEOUT|CONNECTION_)/.test(code)) return "unavailable";
  if (/^(08|53|57P0|40001|40P01)/.test(code)) return "unavailable";
  return "bad_value";
}

function pgError(db: string, e: unknown): Result<never> {
  const err = e as { message?: string; code?: string };
  const message = err.message ?? String(e);
  return fail(pgErrorCode(err.code), `dbms '${db}' (psql): ${message}`);
}

/** How long `connect dbms` waits for a PostgreSQL server before it gives up. */
const CONNECT_DEADLINE_MS = 15_000;

/** Kinds of the PostgreSQL types `read` converts (by type oid); any other type is text. */
const KINDS: Record<number, ValueKind> = {
  16: "bool", 20: "number", 21: "number", 23: "number", 26: "number", 700: "number", 701: "number", 1700: "number",
  114: "json", 3802: "json", 1082: "date", 1114: "timestamp", 1184: "timestamp",
};

/**
 * Date and time parameters as sent. The package's own serializer reads a string through
 * `new Date()`, which takes "2026-01-01 00:00:01" as the node's local time and sends it
 * shifted to UTC (a timestamp column then holds another time when TZ is not UTC), and costs
 * a Date per value. PostgreSQL reads the text itself; Date objects still go as ISO text.
 */
const KEEP_TIME_TEXT = {
  to: 1184,
  from: [1082, 1114, 1184],
  serialize: (x: unknown) => (x instanceof Date ? x.toISOString() : String(x)),
  parse: (x: string) => new Date(x),
};

/** Rows fetched at a time by a paged read's cursor. */
const PAGE_ROWS = 5000;

/** What the package keeps of a statement once described (not in its types). */
interface PgQuery {
  statement?: { columns: postgres.ColumnList<string> };
}

/** A column of a read with its kind. */
const columnOf = (c: { name: string; type: number }): Column => ({ name: c.name, kind: KINDS[c.type] ?? "text" });

/** A raw row's values from their text form. */
function valuesOf(row: ReadonlyArray<Buffer | null>, columns: ReadonlyArray<{ type: number }>): unknown[] {
  return row.map((v, i) => (v === null ? null : fromText(v.toString("utf8"), columns[i]!.type)));
}

/** `simple: false` is a runtime option of `unsafe` that the package's types leave out. */
const ONE_STATEMENT = { simple: false } as postgres.UnsafeQueryOptions;

/** A value from PostgreSQL's text form: bigint and numeric become numbers when their integer part is exact. */
function fromText(text: string, oid: number): unknown {
  switch (oid) {
    case 16:
      return text === "t";
    case 21:
    case 23:
    case 26:
      return Number(text);
    case 20: {
      const n = Number(text);
      return Number.isSafeInteger(n) ? n : text;
    }
    case 700:
    case 701: {
      const n = Number(text);
      return Number.isFinite(n) ? n : text; // NaN, Infinity stay text (JSON has no such numbers)
    }
    case 1700: {
      const n = Number(text);
      const whole = Number(text.split(".")[0]);
      return Number.isFinite(n) && Number.isSafeInteger(whole) && Math.trunc(n) === whole ? n : text;
    }
    case 114:
    case 3802:
      return JSON.parse(text);
    case 1184:
      return text.replace(/[+-]\d\d(:\d\d)?$/, ""); // read() sets the session to UTC
    default:
      return text;
  }
}

export class PostgresDatabase implements Database {
  readonly engine = "psql" as const;

  private constructor(
    readonly name: string,
    private readonly sql: Sql,
    private readonly where: string,
    private readonly owner?: postgres.Sql,
    readonly cacheKey: object = {},
  ) {}

  /**
   * Connects to the server, creates the database when missing, and connects to it; within
   * CONNECT_DEADLINE_MS, whatever is at that address: a host that never completes the
   * handshake, or something that answers but is not PostgreSQL (the driver then waited for
   * good), is an error naming the address, and the driver's connections are ended.
   */
  static async open(options: ConnectOptions): Promise<Result<PostgresDatabase>> {
    const clients: postgres.Sql[] = [];
    const where = `${options.host ?? "127.0.0.1"}:${options.port ?? 5432}`;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let late = false;
    const deadline = new Promise<Result<PostgresDatabase>>((resolve) => {
      timer = setTimeout(() => {
        late = true;
        resolve(fail("unavailable", `dbms '${options.name}' (psql): no PostgreSQL answered at ${where} within ${CONNECT_DEADLINE_MS / 1000} s (is the address right, and a PostgreSQL server there?)`));
      }, CONNECT_DEADLINE_MS);
    });
    const attempt = PostgresDatabase.connect(options, clients).then((r) => {
      if (late && r.ok) void r.value.close(); // connected after the answer was given
      return r;
    });
    const r = await Promise.race([attempt, deadline]);
    clearTimeout(timer);
    if (late) for (const c of clients) void c.end({ timeout: 0 });
    return r;
  }

  private static async connect(options: ConnectOptions, clients: postgres.Sql[]): Promise<Result<PostgresDatabase>> {
    // the driver reconnects at once, hundreds of times a second, to an address that closes
    // its connections: it is handed only an address that answers as PostgreSQL does
    const probed = await probePostgres(options.host ?? "127.0.0.1", options.port ?? 5432);
    if (!probed.ok) return fail(probed.error.code, `dbms '${options.name}' (psql): ${probed.error.message}`);
    const base = {
      host: options.host ?? "127.0.0.1",
      port: options.port ?? 5432,
      username: options.user,
      password: options.password,
      max: 4,
      connect_timeout: 10,
      onnotice: () => {},
      types: { date: KEEP_TIME_TEXT },
    };
    const where = `${base.host}:${base.port}`;
    const dbName = options.name.toLowerCase();
    if (!/^[a-z_][a-z0-9_]*$/.test(dbName)) return fail("bad_value", `'${options.name}' is not a usable PostgreSQL database name`);
    const admin = postgres({ ...base, database: "postgres", max: 1 });
    clients.push(admin);
    try {
      const found = await admin`SELECT 1 FROM pg_database WHERE datname = ${dbName}`;
      if (found.length === 0) {
        try {
          await admin.unsafe(`CREATE DATABASE "${dbName}"`);
        } catch (e) {
          if ((e as { code?: string }).code !== "42P04") throw e; // created meanwhile by another node
        }
      }
    } catch (e) {
      return pgError(options.name, e);
    } finally {
      await admin.end({ timeout: 5 });
    }
    const sql = postgres({ ...base, database: dbName });
    clients.push(sql);
    try {
      await sql`SELECT 1`;
    } catch (e) {
      await sql.end({ timeout: 1 });
      return pgError(options.name, e);
    }
    return ok(new PostgresDatabase(options.name, sql, `${where}/${dbName}`, sql));
  }

  async exec(text: string, params: unknown[] = []): Promise<Result<{ changes: number }>> {
    try {
      const r = await this.sql.unsafe(numberPlaceholders(text), params as postgres.ParameterOrJSON<never>[]);
      return ok({ changes: r.count ?? 0 });
    } catch (e) {
      return pgError(this.name, e);
    }
  }

  async query(text: string, params: unknown[] = []): Promise<Result<Row[]>> {
    try {
      const rows = await this.sql.unsafe(numberPlaceholders(text), params as postgres.ParameterOrJSON<never>[]);
      return ok([...rows] as Row[]);
    } catch (e) {
      return pgError(this.name, e);
    }
  }

  async read(text: string, limits?: ReadLimits): Promise<Result<ReadAnswer>> {
    if (limits) return wholeRead(this.readPaged(text, limits), limits.maxBytes);
    if (!this.owner) return fail("internal", `dbms '${this.name}' (psql): read runs on its own, not inside a transaction`);
    try {
      // READ ONLY: the server refuses any write. simple: false sends one statement through the
      // extended protocol, which refuses a second one (no 'select 1; commit; delete ...').
      const { raw } = await this.owner.begin("read only", async (tx) => {
        await tx.unsafe("SET LOCAL TIME ZONE 'UTC'");
        return { raw: await tx.unsafe(text, [], ONE_STATEMENT).raw() };
      });
      const columns = raw.columns.map(columnOf);
      return ok({ columns, rows: [...raw].map((r) => valuesOf(r, raw.columns)) });
    } catch (e) {
      return pgError(this.name, e);
    }
  }

  async *readPaged(text: string, limits: ReadLimits): PagedRead {
    if (!this.owner) {
      yield fail("internal", `dbms '${this.name}' (psql): read runs on its own, not inside a transaction`);
      return;
    }
    let conn: postgres.ReservedSql | undefined;
    let query: postgres.PendingQuery<postgres.Row[]> | undefined;
    const cancel = () => void query?.cancel();
    limits.signal?.addEventListener("abort", cancel, { once: true });
    try {
      // a connection of its own for the read's transaction, held between pages
      conn = await this.owner.reserve();
      // READ ONLY: the server refuses any write; the extended protocol (simple: false) one statement only
      await conn.unsafe("BEGIN READ ONLY");
      await conn.unsafe("SET LOCAL TIME ZONE 'UTC'");
      // the server stops a user's query past its time
      await conn.unsafe(`SET LOCAL statement_timeout = ${Math.max(1, Math.round(limits.timeoutMs))}`);
      query = conn.unsafe(text, [], ONE_STATEMENT);
      let columns: Column[] | undefined;
      for await (const batch of query.raw().cursor(PAGE_ROWS) as AsyncIterable<postgres.RowList<(Buffer | null)[][]>>) {
        const described = batch.columns ?? (query as unknown as PgQuery).statement?.columns ?? [];
        columns ??= described.map(columnOf);
        movedBytes(batch.length * described.length * 16);
        yield ok({ columns, rows: batch.map((r) => valuesOf(r, described)) });
      }
      // no rows: the columns are the statement's
      if (!columns) yield ok({ columns: ((query as unknown as PgQuery).statement?.columns ?? []).map(columnOf), rows: [] });
    } catch (e) {
      yield limits.signal?.aborted ? fail("timeout", `dbms '${this.name}' (psql): the query was stopped: its asker gave up on it`) : pgError(this.name, e);
    } finally {
      limits.signal?.removeEventListener("abort", cancel);
      if (conn) {
        await conn.unsafe("ROLLBACK").catch(() => {}); // it read only: nothing to keep
        conn.release();
      }
    }
  }

  async transaction<T>(work: (tx: Database) => Promise<Result<T>>): Promise<Result<T>> {
    if (!this.owner) return work(this); // already inside one
    const rollback = Symbol("rollback");
    let outcome: Result<T> | undefined;
    try {
      await this.owner.begin(async (tx) => {
        outcome = await work(new PostgresDatabase(this.name, tx, this.where, undefined, this.cacheKey));
        if (!outcome.ok) throw rollback;
      });
      return outcome!;
    } catch (e) {
      if (e === rollback && outcome) return outcome;
      return pgError(this.name, e);
    }
  }

  async durable(): Promise<Result<void>> {
    return ok(undefined); // a commit is acknowledged once it is on the server's disk (synchronous_commit)
  }

  async lockWriters(table: string): Promise<Result<void>> {
    const r = await this.exec(`LOCK TABLE ${quoteName(table)} IN SHARE ROW EXCLUSIVE MODE`);
    return r.ok ? ok(undefined) : r;
  }

  async tableExists(table: string): Promise<Result<boolean>> {
    const r = await this.query("SELECT 1 FROM information_schema.tables WHERE table_schema = 'public' AND table_name = ?", [table.toLowerCase()]);
    return r.ok ? ok(r.value.length > 0) : r;
  }

  async tables(): Promise<Result<string[]>> {
    const r = await this.query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name");
    return r.ok ? ok(r.value.map((row) => String(row.table_name))) : r;
  }

  describe(): string {
    return `psql ${this.where}`;
  }

  async close(): Promise<void> {
    await this.owner?.end({ timeout: 5 });
  }
}

/**
 * Whether host:port answers as a PostgreSQL server: it is sent the SSLRequest every client
 * may open with, and a server answers one byte, `S` or `N`. Tried up to three times with a
 * doubling wait (a server starting up); anything else is an error naming the address.
 */
export async function probePostgres(host: string, port: number, timeoutMs = 5_000): Promise<Result<void>> {
  let wait = 250;
  let last: Result<void> = ok(undefined);
  for (let attempt = 0; attempt < 3; attempt++) {
    last = await probeOnce(host, port, timeoutMs);
    if (last.ok || last.error.code === "bad_value") return last;
    await Bun.sleep(wait);
    wait *= 2;
  }
  return last;
}

function probeOnce(host: string, port: number, timeoutMs: number): Promise<Result<void>> {
  const where = `${host}:${port}`;
  return new Promise((resolve) => {
    let settled = false;
    const done = (r: Result<void>, socket?: { end(): void }) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket?.end();
      resolve(r);
    };
    const timer = setTimeout(() => done(fail("unavailable", `nothing answered at ${where} within ${timeoutMs / 1000} s`)), timeoutMs);
    const request = Buffer.alloc(8);
    request.writeUInt32BE(8, 0);
    request.writeUInt32BE(80877103, 4); // SSLRequest
    Bun.connect({
      hostname: host,
      port,
      socket: {
        open: (s) => void s.write(request),
        data: (s, d) => done(d.length === 1 && (d[0] === 0x53 || d[0] === 0x4e) ? ok(undefined) : fail("bad_value", `what answers at ${where} is not a PostgreSQL server`), s),
        close: () => done(fail("unavailable", `${where} closed the connection without answering as PostgreSQL does (is a PostgreSQL server there?)`)),
        error: (_s, e) => done(fail("unavailable", `cannot reach ${where}: ${e.message}`)),
      },
    }).catch((e: Error) => done(fail("unavailable", `cannot reach ${where}: ${(e as { code?: string }).code === "ECONNREFUSED" ? "nothing listens there" : e.message}`)));
  });
}
