/**
 * @module test/support/operator
 * Helpers for the operator tests: the seeds' ```anylog blocks, REST PUTs and commands with
 * fetch, bounded waits, a small operator script on SQLite or PostgreSQL started as a
 * restartable script node, and reading a table back — through the node's own
 * `sql <dbms> format=json` when this build has it, else straight from the database
 * (bun:sqlite on `<home>/data/dbms/<dbms>.dbms`, psql for PostgreSQL).
 */
import { Database as Sqlite } from "bun:sqlite";
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { freePorts } from "./node-process.ts";
import type { PostgresServer } from "./postgres.ts";
import { ScriptNode } from "./script-node.ts";

export type Engine = "sqlite" | "psql";

export interface Reply {
  status: number;
  text: string;
  json: unknown;
  /** The reply's headers (set by `put`). */
  headers?: Headers;
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** A command through REST: GET, or POST when `post`; `headers` besides the command (destination, subset, ...). */
export async function command(url: string, cmd: string, post = false, timeoutMs = 60_000, headers: Record<string, string> = {}): Promise<Reply> {
  const r = await fetch(`${url}/`, {
    method: post ? "POST" : "GET",
    headers: { command: cmd, "User-Agent": "AnyLog/1.23", ...headers },
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await r.text();
  return { status: r.status, text, json: parse(text) };
}

/** `PUT /` with the AnyLog ingest headers (INTERFACE §3); a network error throws. */
export async function put(url: string, dbms: string, table: string, body: string, options: { mode?: "streaming" | "file"; timeoutMs?: number } = {}): Promise<Reply> {
  const r = await fetch(`${url}/`, {
    method: "PUT",
    headers: { type: "json", dbms, table, mode: options.mode ?? "streaming", "User-Agent": "AnyLog/1.23", "content-type": "text/plain" },
    body,
    signal: AbortSignal.timeout(options.timeoutMs ?? 60_000),
  });
  const text = await r.text();
  return { status: r.status, text, json: parse(text), headers: r.headers };
}

/** Polls `probe` until it gives a value (not undefined/false/null), within `withinMs`; else throws naming `what`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | null | false> | T | undefined | null | false, withinMs = 30_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + withinMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== null && v !== false) return v as T;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`not within ${withinMs / 1000} s: ${what}${last ? ` (last error: ${last instanceof Error ? last.message : String(last)})` : ""}`);
    await Bun.sleep(everyMs);
  }
}

/** Writes a data file into a watch directory in one step (a dot-name the operator ignores, then a rename). */
export function dropFile(watchDir: string, name: string, text: string): string {
  mkdirSync(watchDir, { recursive: true });
  const tmp = join(watchDir, `.${name}.part`);
  writeFileSync(tmp, text);
  const path = join(watchDir, name);
  renameSync(tmp, path);
  return path;
}

/** Where a node's data can be read: its REST URL, its home, its engine. */
export interface DataSource {
  url: string;
  home: string;
  engine: Engine;
  pg?: PostgresServer;
}

/** Whether this build answers `sql` (memoised per process once known). */
let sqlBuilt: boolean | undefined;

/**
 * Rows of a SELECT on a node's dbms: by `sql <dbms> format=json and stat=false` through REST
 * when this build has the command, else read straight from the database.
 */
export async function select(src: DataSource, dbms: string, query: string, options = ""): Promise<Array<Record<string, unknown>>> {
  // with a streamer, a PUT is answered once it is in the journal and stored on its buffer's
  // threshold: `flush buffers` makes every acknowledged row queryable now (a node without an
  // operator answers 503 and nothing changes)
  await command(src.url, "flush buffers", true);
  if (sqlBuilt !== false) {
    const r = await command(src.url, `sql ${dbms} format=json and stat=false${options ? ` and ${options}` : ""} "${query}"`);
    if (r.status === 200) {
      const rows = (r.json as { Query?: Array<Record<string, unknown>> } | undefined)?.Query;
      if (!Array.isArray(rows)) throw new Error(`sql reply has no Query list: ${r.text.slice(0, 300)}`);
      sqlBuilt = true;
      return rows;
    }
    if (!/not in this build yet/.test(r.text)) throw new Error(`sql ${dbms} "${query}" failed: ${r.status} ${r.text.slice(0, 300)}`);
    sqlBuilt = false;
  }
  return selectDirect(src, dbms, query);
}

/** Rows of a SELECT read straight from the node's database, bypassing the node. */
export async function selectDirect(src: DataSource, dbms: string, query: string): Promise<Array<Record<string, unknown>>> {
  if (src.engine === "psql") {
    if (!src.pg) throw new Error("a PostgreSQL data source needs its server");
    const lines = await src.pg.psql(dbms, `SELECT row_to_json(q) FROM (${query}) q`);
    return lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  }
  const db = new Sqlite(join(src.home, "data", "dbms", `${dbms}.dbms`), { readonly: true });
  try {
    return db.query(query).all() as Array<Record<string, unknown>>;
  } finally {
    db.close();
  }
}

/** One number from a one-row SELECT (count, sum), whatever type the reply carries it in. */
export async function scalar(src: DataSource, dbms: string, query: string): Promise<number> {
  const rows = await select(src, dbms, query);
  const v = rows[0] ? Object.values(rows[0])[0] : undefined;
  return v === null || v === undefined ? 0 : Number(v);
}

/** The `get operator where format = json` reply. */
export async function operatorInfo(url: string): Promise<{ watch_dir: string; tables: Record<string, { files: number; rows: number; errors: number; last_error?: string }> } & Record<string, unknown>> {
  const r = await command(url, "get operator where format = json");
  if (r.status !== 200 || typeof r.json !== "object") throw new Error(`get operator: ${r.status} ${r.text}`);
  return r.json as never;
}

/** The `get streaming where format = json` reply: per table, and the journal. */
export async function streamingInfo(url: string): Promise<{
  tables: Array<Record<string, string | number | boolean>>;
  journal: { "journal bytes": number; "journal limit": number; "journal segments": number; "journal pending": number; "oldest pending": string };
}> {
  const r = await command(url, "get streaming where format = json");
  if (r.status !== 200 || typeof r.json !== "object") throw new Error(`get streaming: ${r.status} ${r.text}`);
  return r.json as never;
}

/** The dictionary of a node (`get dictionary where format = json`). */
export async function dictionary(url: string): Promise<Record<string, string>> {
  const r = await command(url, "get dictionary where format = json");
  if (r.status !== 200) throw new Error(`get dictionary: ${r.status} ${r.text}`);
  return r.json as Record<string, string>;
}

/** `connect dbms` lines for a logical database on SQLite or on the test's PostgreSQL. */
export function connectLine(engine: Engine, dbms: string, pg?: PostgresServer): string {
  if (engine === "sqlite") return `connect dbms ${dbms} where type = sqlite`;
  if (!pg) throw new Error("PostgreSQL needs its server");
  return `connect dbms ${dbms} where type = psql and ip = 127.0.0.1 and port = ${pg.port} and user = postgres and password = test`;
}

export interface OperatorNodeOptions {
  engine: Engine;
  pg?: PostgresServer;
  /** The folder the node's home and script go in (the home is `<dir>/home`). */
  dir: string;
  dbms: string;
  /** `run streamer` before the operator (timed buffers); without it every PUT is written at once. */
  streamer?: boolean;
  /** Options of `run operator` after `where`. */
  operator?: string;
  /** Lines run before `run operator` (buffer thresholds, partitions). */
  before?: string[];
  /** Environment of the node's process, besides the test's own. */
  env?: Record<string, string>;
  /** The largest message the TCP server takes (`run tcp server ... max_frame`), e.g. "1MB". */
  maxFrame?: string;
  /** Seconds the REST server gives a command (`run rest server ... timeout`; 60 by default). */
  restTimeout?: number;
}

/** A restartable operator node from a small script: TCP, REST, almgm + tsd_info, one dbms, the operator. */
export class OperatorNode implements DataSource {
  node!: ScriptNode;
  private constructor(
    readonly options: OperatorNodeOptions,
    readonly tcpPort: number,
    readonly restPort: number,
    readonly script: string,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.restPort}`;
  }
  get home(): string {
    return join(this.options.dir, "home");
  }
  get engine(): Engine {
    return this.options.engine;
  }
  get pg(): PostgresServer | undefined {
    return this.options.pg;
  }
  get watchDir(): string {
    return join(this.home, "data", "watch");
  }
  get errorDir(): string {
    return join(this.home, "data", "error");
  }
  get bkupDir(): string {
    return join(this.home, "data", "bkup");
  }

  static async start(options: OperatorNodeOptions): Promise<OperatorNode> {
    const [tcp, rest] = (await freePorts(2)) as [number, number];
    mkdirSync(options.dir, { recursive: true });
    const { engine, pg, dbms } = options;
    const lines = [
      `run tcp server where external_ip = 127.0.0.1 and external_port = !anylog_server_port and bind = true${options.maxFrame ? ` and max_frame = ${options.maxFrame}` : ""}`,
      `run rest server where external_ip = 127.0.0.1 and external_port = !anylog_rest_port and bind = true and timeout = ${options.restTimeout ?? 60}`,
      connectLine(engine, "almgm", pg),
      "create table tsd_info where dbms = almgm",
      connectLine(engine, dbms, pg),
      ...(options.before ?? []),
      ...(options.streamer ? ["run streamer"] : []),
      `run operator where ${options.operator ?? "create_table = true and update_tsd_info = true"}`,
    ];
    const script = join(options.dir, "operator.al");
    writeFileSync(script, `${lines.join("\n")}\n`);
    const n = new OperatorNode(options, tcp, rest, script);
    await n.restart();
    return n;
  }

  /** Starts (again) from the same script, home and ports; returns when the script has run. */
  async restart(): Promise<ScriptNode> {
    this.node = await ScriptNode.start({
      home: this.home,
      script: this.script,
      restPort: this.restPort,
      env: this.options.env,
      set: { anylog_server_port: String(this.tcpPort), anylog_rest_port: String(this.restPort), node_name: basename(dirname(this.script)) },
    });
    return this.node;
  }

  /** Script lines that failed while it started (`<script>:<line>: ...` on stderr). */
  scriptErrors(): string[] {
    return this.node.stderr.split("\n").filter((l) => l.startsWith(`${this.script}:`));
  }
}
