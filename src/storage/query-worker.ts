/**
 * @module storage/query-worker
 * Queries on SQLite files in processes of their own, so that no query can hold the node: a
 * recursive query that never ends, or one that builds a gigabyte, runs in a query worker
 * (this executable started as `anylog query-worker`), and past its deadline the worker is
 * killed and another takes its place, while the node's event loop goes on answering
 * `/health`, TCP and ingest. (A thread cannot do this: Bun's Worker.terminate() waits for a
 * running SQLite statement, which may never return.)
 *
 * Worker side (`runQueryWorker`): one JSON request per line on stdin
 * `{id, path, sql, maxBytes}`, one JSON answer per line on stdout `{id, ok, columns, rows}`
 * or `{id, ok: false, code, message}`; the database opened read-only, SQLite's heap capped,
 * the rows counted as they come so a result past `maxBytes` ends with an error.
 * Node side (`readInWorker`): a pool of workers started when first needed, by the command
 * the node set with `useQueryWorkers` at start (a node in a test process reads in-process).
 */
import { Database as Sqlite } from "bun:sqlite";
import { FFIType, dlopen } from "bun:ffi";
import type { Subprocess } from "bun";
import { kindOf, plainValue } from "./sqlite-values.ts";
import { logger } from "../util/log.ts";
import { type Result, errorText, fail, ok } from "../util/result.ts";
import type { ReadAnswer } from "./database.ts";

/** SQLite's heap in a worker: a query needing more (randomblob(1e9)) fails instead of growing the process. */
const WORKER_HEAP_BYTES = 256 * 1024 * 1024;

interface Request {
  id: number;
  path: string;
  sql: string;
  maxBytes: number;
}

type Answer = { id: number; ok: true; columns: ReadAnswer["columns"]; rows: unknown[][] } | { id: number; ok: false; code: string; message: string };



/** Answers one request (worker side). */
function answer(dbs: Map<string, Sqlite>, r: Request): Answer {
  try {
    let db = dbs.get(r.path);
    if (!db) {
      db = new Sqlite(r.path, { readonly: true });
      db.exec(`PRAGMA hard_heap_limit = ${WORKER_HEAP_BYTES}`);
      dbs.set(r.path, db);
    }
    const stmt = db.prepare(r.sql);
    stmt.safeIntegers(true);
    try {
      const names = stmt.columnNames;
      if (names.length === 0) return { id: r.id, ok: false, code: "bad_value", message: "the statement returns no rows: not a query" };
      const columns = names.map((name, i) => ({ name, kind: kindOf(stmt.declaredTypes[i] ?? null) }));
      const rows: unknown[][] = [];
      let bytes = 0;
      const unique = new Set(names).size === names.length;
      // rows one at a time, so a result past its volume stops early (a repeated name: all at once)
      const source: Iterable<unknown[]> = unique ? mapRows(stmt.iterate() as Iterable<Record<string, unknown>>, names) : (stmt.values() as unknown[][]);
      for (const raw of source) {
        const row = raw.map(plainValue);
        for (const v of row) bytes += typeof v === "string" ? v.length : 8;
        if (bytes > r.maxBytes) {
          return { id: r.id, ok: false, code: "too_large", message: `the result is larger than ${r.maxBytes} bytes (max_volume): ask for fewer rows or columns` };
        }
        rows.push(row);
      }
      return { id: r.id, ok: true, columns, rows };
    } finally {
      stmt.finalize();
    }
  } catch (e) {
    const message = errorText(e);
    const large = /out of memory/i.test(message);
    return { id: r.id, ok: false, code: /disk|I\/O/i.test(message) ? "io" : "bad_value", message: large ? `the query needs more memory than a query may use (${WORKER_HEAP_BYTES / 1024 / 1024} MiB): ${message}` : message };
  }
}

function* mapRows(rows: Iterable<Record<string, unknown>>, names: string[]): Generator<unknown[]> {
  for (const r of rows) yield names.map((n) => r[n]);
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
      process.stdout.write(`${JSON.stringify(answer(dbs, request))}\n`);
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
      this.proc.stdin.write(`${JSON.stringify(request)}\n`);
      this.proc.stdin.flush();
    });
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

/** Reads `sql` on the SQLite file at `path` in a worker; stopped (the worker killed) past `timeoutMs`. */
export async function readInWorker(path: string, sql: string, limits: { timeoutMs: number; maxBytes: number }): Promise<Result<ReadAnswer>> {
  let w: Worker;
  try {
    w = await take();
  } catch (e) {
    // the executable cannot start another process here: queries are read in the node from now on
    workerCommand = undefined;
    log.warn(`no query worker could start (${errorText(e)}): queries are read in the node, where one that runs away holds it`);
    return fail("unavailable", `no query worker could start (${errorText(e)}): reading in the node`);
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const timedOut = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), limits.timeoutMs);
    });
    const a = await Promise.race([w.ask({ id: nextId++, path, sql, maxBytes: limits.maxBytes }), timedOut]);
    if (a === "timeout") {
      w.kill();
      return fail("timeout", `the query ran past ${(limits.timeoutMs / 1000).toFixed(0)} s and was stopped (max_time)`);
    }
    if (!a) return fail("internal", "the query worker ended while answering (out of memory?)");
    return a.ok ? ok({ columns: a.columns, rows: a.rows }) : fail(a.code === "io" ? "io" : "bad_value", a.message);
  } catch (e) {
    w.kill();
    return fail("internal", `the query worker failed: ${errorText(e)}`);
  } finally {
    clearTimeout(timer);
    giveBack(w);
  }
}
