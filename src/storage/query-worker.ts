/**
 * @module storage/query-worker
 * Queries on SQLite files in processes of their own, so that no query can hold the node: a
 * recursive query that never ends, or one that builds a gigabyte, runs in a query worker
 * (this executable started as `anylog query-worker`), and past its deadline the worker is
 * killed and another takes its place, while the node's event loop goes on answering
 * `/health`, TCP and ingest. (A thread cannot do this: Bun's Worker.terminate() waits for a
 * running SQLite statement, which may never return.)
 *
 * Worker side (`runQueryWorker`): one JSON request per line on stdin, one JSON answer per
 * line on stdout. `{op: "open", id, path, sql}` starts a query (the database opened
 * read-only, SQLite's heap capped) and answers its first page `{id, ok, columns, rows, done}`
 * or `{id, ok: false, code, message}`; `{op: "next", id}` answers the next page; `{op:
 * "close", id}` ends it early. A page holds about PAGE_BYTES of values, so a worker never
 * holds more than one page of a result, and neither does the node.
 * Node side (`pagesInWorker`): a pool of workers started when first needed, by the command
 * the node set with `useQueryWorkers` at start (a node in a test process reads in-process).
 * A worker serves one query, page after page, until it ends.
 */
import { Database as Sqlite, type Statement } from "bun:sqlite";
import { FFIType, dlopen } from "bun:ffi";
import type { Subprocess } from "bun";
import { readFileSync } from "node:fs";
import { columnsOf, nextPage, rowsOf } from "./sqlite-values.ts";
import { logger } from "../util/log.ts";
import { movedBytes } from "../util/garbage.ts";
import { type Result, errorText, fail, ok } from "../util/result.ts";
import type { Column, PagedRead, ReadLimits } from "./database.ts";

/** SQLite's heap in a worker: a query needing more (randomblob(1e9)) fails instead of growing the process. */
const WORKER_HEAP_BYTES = 256 * 1024 * 1024;
/**
 * A worker's resident memory past this is killed by the node: SQLite's heap limit only holds
 * where SQLite counts its memory, which Bun 1.4's SQLite does not (randomblob(1e9) grew a
 * worker to 1 GB), so the node also watches the worker (the runtime's own ~64 MiB on top).
 */
const WORKER_RSS_BYTES = WORKER_HEAP_BYTES + 64 * 1024 * 1024;
/** How often the node looks at a busy worker's memory. */
const WATCH_MS = 100;

type Request = { op: "open"; id: number; path: string; sql: string } | { op: "next"; id: number } | { op: "close"; id: number };

type Answer = { id: number; ok: true; columns?: Column[]; rows: unknown[][]; done: boolean } | { id: number; ok: false; code: string; message: string };

/** The query a worker is answering, between its pages. */
interface Cursor {
  id: number;
  stmt: Statement;
  rows: Iterator<unknown[]>;
}

/** A SQLite failure as an answer a user can act on. */
function failure(id: number, e: unknown): Answer {
  const message = errorText(e);
  const large = /out of memory/i.test(message);
  return { id, ok: false, code: /disk|I\/O/i.test(message) ? "io" : "bad_value", message: large ? `the query needs more memory than a query may use (${WORKER_HEAP_BYTES / 1024 / 1024} MiB): ${message}` : message };
}

/** Answers one request (worker side); undefined for a close. */
function answer(dbs: Map<string, Sqlite>, state: { cursor?: Cursor }, r: Request): Answer | undefined {
  if (r.op !== "open") {
    const c = state.cursor;
    if (!c || c.id !== r.id) return r.op === "close" ? undefined : { id: r.id, ok: false, code: "internal", message: "no such query in the worker" };
    if (r.op === "close") {
      state.cursor = undefined;
      c.stmt.finalize();
      return undefined;
    }
    return page(state, c);
  }
  state.cursor?.stmt.finalize();
  state.cursor = undefined;
  try {
    let db = dbs.get(r.path);
    if (!db) {
      db = new Sqlite(r.path, { readonly: true });
      db.exec(`PRAGMA hard_heap_limit = ${WORKER_HEAP_BYTES}`);
      dbs.set(r.path, db);
    }
    const stmt = db.prepare(r.sql);
    stmt.safeIntegers(true);
    const names = stmt.columnNames;
    if (names.length === 0) {
      stmt.finalize();
      return { id: r.id, ok: false, code: "bad_value", message: "the statement returns no rows: not a query" };
    }
    const columns = columnsOf(stmt);
    const cursor = { id: r.id, stmt, rows: rowsOf(stmt) };
    state.cursor = cursor;
    const first = page(state, cursor);
    return first.ok ? { ...first, columns } : first;
  } catch (e) {
    return failure(r.id, e);
  }
}

function page(state: { cursor?: Cursor }, c: Cursor): Answer {
  try {
    const p = nextPage(c.rows);
    if (p.done) {
      state.cursor = undefined;
      c.stmt.finalize();
    }
    return { id: c.id, ok: true, rows: p.rows, done: p.done };
  } catch (e) {
    state.cursor = undefined;
    c.stmt.finalize();
    return failure(c.id, e);
  }
}

/**
 * The kernel kills this worker when the node that started it dies (prctl PR_SET_PDEATHSIG):
 * a node killed with -9 must not leave a worker running a query that never ends.
 */
function dieWithParent(): void {
  try {
    const libc = dlopen("libc.so.6", { prctl: { args: [FFIType.i32, FFIType.u64, FFIType.u64, FFIType.u64, FFIType.u64], returns: FFIType.i32 } });
    libc.symbols.prctl(1 /* PR_SET_PDEATHSIG */, 9 /* SIGKILL */, 0, 0, 0);
    libc.close();
  } catch {
    // no libc to ask (not Linux/glibc): the worker still ends when its stdin closes
  }
  if (process.ppid === 1) process.exit(0); // the node died before the call above
}

/** The worker's loop: requests from stdin until it closes. */
export async function runQueryWorker(): Promise<number> {
  dieWithParent();
  const dbs = new Map<string, Sqlite>();
  const state: { cursor?: Cursor } = {};
  const decoder = new TextDecoder();
  let pending = "";
  for await (const chunk of Bun.stdin.stream()) {
    pending += decoder.decode(chunk, { stream: true });
    for (let nl = pending.indexOf("\n"); nl >= 0; nl = pending.indexOf("\n")) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (line.trim() === "") continue;
      let request: Request;
      try {
        request = JSON.parse(line) as Request;
      } catch {
        continue;
      }
      const a = answer(dbs, state, request);
      if (a) process.stdout.write(`${JSON.stringify(a)}\n`);
    }
  }
  return 0;
}

// --- node side ---

const log = logger("query");

let workerCommand: string[] | undefined;
/** Workers at most, and the queries waiting for one. */
let poolSize = 2;

/** Reads on SQLite files go to worker processes started by `command` (the node's own executable). */
export function useQueryWorkers(command: string[], size = 2): void {
  workerCommand = command;
  poolSize = Math.max(1, size);
}

export const queryWorkersInUse = (): boolean => workerCommand !== undefined;

class Worker {
  private readonly proc: Subprocess<"pipe", "pipe", "ignore">;
  private buffer = "";
  private waiting?: { id: number; resolve: (a: Answer | undefined) => void };
  dead = false;

  constructor(command: string[]) {
    this.proc = Bun.spawn(command, { stdin: "pipe", stdout: "pipe", stderr: "ignore" });
    void this.read();
    void this.proc.exited.then(() => {
      this.dead = true;
      this.waiting?.resolve(undefined);
      this.waiting = undefined;
    });
  }

  private async read(): Promise<void> {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of this.proc.stdout) {
        this.buffer += decoder.decode(chunk, { stream: true });
        for (let nl = this.buffer.indexOf("\n"); nl >= 0; nl = this.buffer.indexOf("\n")) {
          const line = this.buffer.slice(0, nl);
          this.buffer = this.buffer.slice(nl + 1);
          const a = JSON.parse(line) as Answer;
          if (this.waiting?.id === a.id) {
            const w = this.waiting;
            this.waiting = undefined;
            w.resolve(a);
          }
        }
      }
    } catch {
      // the worker was killed mid-answer
    }
  }

  /** One request; undefined when the worker died before answering. */
  ask(request: Request): Promise<Answer | undefined> {
    return new Promise((resolve) => {
      this.waiting = { id: request.id, resolve };
      this.tell(request);
    });
  }

  /** A request that has no answer (close). */
  tell(request: Request): void {
    try {
      this.proc.stdin.write(`${JSON.stringify(request)}\n`);
      this.proc.stdin.flush();
    } catch {
      this.kill(); // its stdin is gone: the worker is too
      this.waiting?.resolve(undefined);
      this.waiting = undefined;
    }
  }

  /** Resident bytes of the worker process now (0 once it is gone). */
  residentBytes(): number {
    try {
      const pages = Number(readFileSync(`/proc/${this.proc.pid}/statm`, "utf8").split(" ")[1]);
      return Number.isFinite(pages) ? pages * 4096 : 0;
    } catch {
      return 0; // not Linux, or the worker has ended
    }
  }

  kill(): void {
    this.dead = true;
    this.proc.kill("SIGKILL");
  }
}

const idle: Worker[] = [];
const busy = new Set<Worker>();
const queue: Array<() => void> = [];
let nextId = 1;

/** Kills every worker (a node stopping: a query still running is not waited for). */
export function stopQueryWorkers(): void {
  for (const w of [...idle, ...busy]) w.kill();
  idle.length = 0;
}

process.on("exit", stopQueryWorkers);

/** A worker for one request, marked busy at once (so two callers in one tick cannot both start one past the pool's size). */
async function take(): Promise<Worker> {
  for (;;) {
    let w = idle.pop();
    if (w?.dead) continue;
    if (!w && busy.size < poolSize) w = new Worker(workerCommand!);
    if (w) {
      busy.add(w);
      return w;
    }
    await new Promise<void>((resolve) => queue.push(resolve));
  }
}

function giveBack(w: Worker): void {
  busy.delete(w);
  if (!w.dead) idle.push(w);
  queue.shift()?.();
}

/**
 * Reads `sql` on the SQLite file at `path` in a worker, a page at a time. Stopped (the worker
 * killed) once the worker has worked `limits.timeoutMs` on it, or when `limits.signal` aborts;
 * the time a caller takes between pages does not count. The first item is an `unavailable`
 * error when no worker can start here (the caller reads in the node instead).
 */
export async function* pagesInWorker(path: string, sql: string, limits: ReadLimits): PagedRead {
  let w: Worker;
  try {
    w = await take();
  } catch (e) {
    // the executable cannot start another process here: queries are read in the node from now on
    workerCommand = undefined;
    log.warn(`no query worker could start (${errorText(e)}): queries are read in the node, where one that runs away holds it`);
    yield fail("unavailable", `no query worker could start (${errorText(e)}): reading in the node`);
    return;
  }
  const id = nextId++;
  let open = false;
  let left = limits.timeoutMs;
  try {
    let columns: Column[] = [];
    for (let request: Request = { op: "open", id, path, sql }; ; request = { op: "next", id }) {
      const started = Date.now();
      const a = await untilDone(w.ask(request), left, limits.signal, () => w.residentBytes() > WORKER_RSS_BYTES);
      left -= Date.now() - started;
      if (a === "timeout" || a === "aborted" || a === "too_big") {
        w.kill();
        yield a === "timeout"
          ? fail("timeout", `the query ran past ${(limits.timeoutMs / 1000).toFixed(0)} s and was stopped (max_time)`)
          : a === "aborted"
            ? fail("timeout", "the query was stopped: its asker gave up on it")
            : fail("bad_value", `the query needs more memory than a query may use (${WORKER_RSS_BYTES / 1024 / 1024} MiB) and was stopped`);
        return;
      }
      if (!a) {
        yield fail("internal", "the query worker ended while answering (out of memory?)");
        return;
      }
      if (!a.ok) {
        yield fail(a.code === "io" ? "io" : "bad_value", a.message);
        return;
      }
      open = !a.done;
      columns = a.columns ?? columns;
      movedBytes(a.rows.length * columns.length * 16);
      yield ok({ columns, rows: a.rows });
      if (a.done) return;
    }
  } finally {
    if (open && !w.dead) w.tell({ op: "close", id }); // the caller stopped early
    giveBack(w);
  }
}

/** `work`, or "timeout" past `ms`, "aborted" when `signal` aborts, "too_big" once `tooBig()` says so (looked at every WATCH_MS). */
function untilDone<T>(work: Promise<T>, ms: number, signal: AbortSignal | undefined, tooBig: () => boolean): Promise<T | "timeout" | "aborted" | "too_big"> {
  if (signal?.aborted) return Promise.resolve("aborted");
  let timer: ReturnType<typeof setTimeout> | undefined;
  let watch: ReturnType<typeof setInterval> | undefined;
  let onAbort: (() => void) | undefined;
  const stop = new Promise<"timeout" | "aborted" | "too_big">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), Math.max(0, ms));
    watch = setInterval(() => tooBig() && resolve("too_big"), WATCH_MS);
    onAbort = () => resolve("aborted");
    signal?.addEventListener("abort", onAbort, { once: true });
  });
  return Promise.race([work, stop]).finally(() => {
    clearTimeout(timer);
    clearInterval(watch);
    if (onAbort) signal?.removeEventListener("abort", onAbort);
  });
}
