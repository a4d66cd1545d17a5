/**
 * Ingest benchmark (issue #4): rows per second end to end into a running node, each beside
 * bare inserts measured in the same run on the same machine:
 *  - REST PUT streaming (4 PUTs in flight, 1,000 rows each, write_immediate) and watch-dir
 *    files (1,000 rows each) into SQLite, against a bun:sqlite prepared-insert loop in one
 *    transaction;
 *  - the same into PostgreSQL, against the `postgres` package's multi-row inserts in one
 *    transaction (skipped, saying why, without Debian's postgresql);
 *  - (issue #9) 5,000-row REST PUTs with write_immediate, one client, one PUT after another,
 *    into SQLite, against a bun:sqlite loop doing for each body what the node must: JSON.parse
 *    of the same body, prepared inserts in one transaction per body.
 * Each baseline goes two ways: into the table the node makes for these rows (same CREATE
 * statements), which isolates the pipeline's cost, and into a plain 4-column table.
 * The node is the compiled executable (ANYLOG_BIN, else built by make). BENCH_ROWS sets the
 * row count (1,000,000), BENCH_RUNS how many runs give each median (3); `--record` appends
 * the table to bench/RESULTS.md.
 */
import { Database as Sqlite } from "bun:sqlite";
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { type ColumnType, createTableSql, indexSql } from "../src/ingest/columns.ts";
import { PostgresServer } from "../test/support/postgres.ts";
import { type BenchNode, anylogBin, loadAverage, nodeCommand, osName, rowCount, startNode } from "./lib/node.ts";
import { report } from "./lib/report.ts";

const bin = anylogBin();

const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
/** Each figure is the median of this many runs (the machine is shared with the client and the database). */
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const PER_PUT = 1000;
const IN_FLIGHT = 4;
/** Rows per PUT of the one-after-another figure (issue #9). */
const SERIAL_PER_PUT = 5000;
const work = mkdtempSync(join(tmpdir(), "anylog-bench-ingest-"));
const loadBefore = loadAverage();

const row = (i: number) => ({ id: i, ts: `2026-01-01 00:00:${String(i % 60).padStart(2, "0")}`, device: `dev-${i % 50}`, value: (i % 1000) / 10 });
const bodiesOf = (perBody: number) => Array.from({ length: ROWS / perBody }, (_, b) => Array.from({ length: perBody }, (_, k) => JSON.stringify(row(b * perBody + k))).join("\n"));
const bodies = bodiesOf(PER_PUT);
const serialBodies = bodiesOf(SERIAL_PER_PUT);

/** An operator node writing to the dbms of `dbLine`, storing every PUT before it answers; files deleted once stored. */
function startOperator(home: string, dbLine: string): Promise<BenchNode> {
  return startNode(bin, home, [
    "connect dbms almgm where type = sqlite",
    "create table tsd_info where dbms = almgm",
    dbLine,
    "set buffer threshold where write_immediate = true",
    "run operator where create_table = true and update_tsd_info = true and delete_json = true",
  ]);
}

async function putAll(url: string, dbms: string, table: string): Promise<number> {
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < bodies.length) {
        const body = bodies[next++]!;
        const r = await fetch(url, { method: "PUT", headers: { type: "json", dbms, table, mode: "streaming" }, body });
        if (!r.ok) throw new Error(`PUT failed: ${await r.text()}`);
      }
    }),
  );
  return performance.now() - t0;
}

/** One client, one PUT after another (each answered once stored: write_immediate). */
async function putSerial(url: string, dbms: string, table: string): Promise<number> {
  const t0 = performance.now();
  for (const body of serialBodies) {
    const r = await fetch(url, { method: "PUT", headers: { type: "json", dbms, table, mode: "streaming" }, body });
    if (!r.ok) throw new Error(`PUT failed: ${await r.text()}`);
  }
  return performance.now() - t0;
}

async function filesAll(url: string, home: string, dbms: string, table: string): Promise<number> {
  const watch = join(home, "data", "watch");
  const t0 = performance.now();
  bodies.forEach((body, i) => {
    const tmp = join(home, `f${i}.tmp`);
    writeFileSync(tmp, body);
    renameSync(tmp, join(watch, `${dbms}.${table}.bench.${i}.json`));
  });
  // the operator's own counter (a count(*) every few ms would compete with the inserts)
  while ((await storedRows(url, dbms, table)) < ROWS) await Bun.sleep(20);
  const ms = performance.now() - t0;
  if ((await rowCount(url, dbms, table)) !== ROWS) throw new Error(`${dbms}.${table}: the table does not hold the ${ROWS} rows of the files`);
  return ms;
}

/** Rows the operator has stored into a table (`get operator where format = json`). */
async function storedRows(url: string, dbms: string, table: string): Promise<number> {
  const info = JSON.parse(await nodeCommand(url, "get operator where format = json")) as { tables?: Record<string, { rows: number }> };
  return info.tables?.[`${dbms}.${table}`]?.rows ?? 0;
}

/** The columns of the bench's rows, as the node infers them. */
const COLUMNS = new Map<string, ColumnType>([
  ["id", "int"],
  ["ts", "timestamp"],
  ["device", "text"],
  ["value", "float"],
]);

/**
 * A bare bun:sqlite prepared-insert loop in one transaction: into a plain 4-column table, or
 * (`shaped`) into the table the node makes for these rows (the same CREATE statements: the
 * bookkeeping columns and the tsd_id index every anylog table has).
 */
function sqliteBaseline(shaped: boolean, run: number): number {
  const db = new Sqlite(join(work, `baseline-${shaped}-${run}.db`));
  db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL");
  if (shaped) for (const s of [createTableSql("sqlite", "t", COLUMNS), indexSql("t")]) db.exec(s);
  else db.exec("CREATE TABLE t (id INTEGER, ts TIMESTAMP, device VARCHAR, value REAL)");
  const insert = shaped
    ? db.prepare("INSERT INTO t (id, ts, device, value, insert_timestamp, tsd_name, tsd_id) VALUES (?, ?, ?, ?, ?, '0', 1)")
    : db.prepare("INSERT INTO t VALUES (?, ?, ?, ?)");
  const now = new Date().toISOString();
  const t0 = performance.now();
  db.transaction(() => {
    for (let i = 0; i < ROWS; i++) {
      const r = row(i);
      if (shaped) insert.run(r.id, r.ts, r.device, r.value, now);
      else insert.run(r.id, r.ts, r.device, r.value);
    }
  })();
  const ms = performance.now() - t0;
  db.close();
  return ms;
}

/**
 * What the node must do with each 5,000-row body, bare: JSON.parse of its lines, then a
 * bun:sqlite prepared insert of each row in one transaction per body, into the node's table
 * shape (`shaped`) or a plain 4-column table. The node's pragmas (WAL, synchronous = NORMAL:
 * no sync at commit) unless `synced` (synchronous = FULL: the WAL synced at every commit, as
 * the node syncs what it stored before it answers).
 */
function serialBaseline(shaped: boolean, synced: boolean, run: number): number {
  const db = new Sqlite(join(work, `serial-${shaped}-${synced}-${run}.db`));
  db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = ${synced ? "FULL" : "NORMAL"}; PRAGMA wal_autocheckpoint = 16384`);
  if (shaped) for (const s of [createTableSql("sqlite", "t", COLUMNS), indexSql("t")]) db.exec(s);
  else db.exec("CREATE TABLE t (id INTEGER, ts TIMESTAMP, device VARCHAR, value REAL)");
  const insert = shaped
    ? db.prepare("INSERT INTO t (id, ts, device, value, insert_timestamp, tsd_name, tsd_id) VALUES (?, ?, ?, ?, ?, '0', ?)")
    : db.prepare("INSERT INTO t VALUES (?, ?, ?, ?)");
  type Row = { id: number; ts: string; device: string; value: number };
  const store = db.transaction((rows: Row[], file: number) => {
    const now = new Date().toISOString();
    for (const r of rows) {
      if (shaped) insert.run(r.id, r.ts, r.device, r.value, now, file);
      else insert.run(r.id, r.ts, r.device, r.value);
    }
  });
  const t0 = performance.now();
  serialBodies.forEach((body, file) => store(body.split("\n").map((line) => JSON.parse(line) as Row), file));
  const ms = performance.now() - t0;
  db.close();
  return ms;
}

/** The `postgres` package's multi-row insert in one transaction: into a plain table, or (`shaped`) the table the node makes. */
async function pgBaseline(port: number, shaped: boolean, run: number): Promise<number> {
  const sql = postgres({ host: "127.0.0.1", port, username: "postgres", database: "postgres", onnotice: () => {} });
  const name = `${shaped ? "baseline_shaped" : "baseline"}_${run}`;
  if (shaped) for (const s of [createTableSql("psql", name, COLUMNS), indexSql(name)]) await sql.unsafe(s);
  else await sql.unsafe(`CREATE TABLE ${name} (id BIGINT, ts TIMESTAMP, device VARCHAR, value DOUBLE PRECISION)`);
  const now = new Date().toISOString();
  const t0 = performance.now();
  await sql.begin(async (tx) => {
    for (let b = 0; b < ROWS; b += PER_PUT) {
      const rows = Array.from({ length: PER_PUT }, (_, k) => (shaped ? { ...row(b + k), insert_timestamp: now, tsd_name: "0", tsd_id: 1 } : row(b + k)));
      await tx`INSERT INTO ${tx(name)} ${tx(rows)}`;
    }
  });
  const ms = performance.now() - t0;
  await sql.end();
  return ms;
}

const rate = (ms: number) => Math.round(ROWS / (ms / 1000));
const rows = (ms: number) => `${rate(ms).toLocaleString("en")} rows/s`;
const results: string[][] = [];
const serialResults: string[][] = [];
/** One path's figure beside both baselines: the node's own table shape, and a plain 4-column table. */
function record(what: string, ms: number, base: { shaped: number; plain: number }) {
  results.push([what, rows(ms), rows(base.shaped), (base.shaped / ms).toFixed(2), rows(base.plain), (base.plain / ms).toFixed(2)]);
}

/** The median of RUNS measurements (milliseconds). */
async function median(measure: (run: number) => number | Promise<number>): Promise<number> {
  const times: number[] = [];
  for (let run = 0; run < RUNS; run++) times.push(await measure(run));
  return times.sort((a, b) => a - b)[Math.floor(RUNS / 2)]!;
}

/** Both paths into one node, RUNS times each into new tables: REST PUT streaming, then watch-dir files; every row checked. */
async function measure(engine: string, dbLine: string, base: { shaped: number; plain: number }): Promise<void> {
  const home = mkdtempSync(join(work, `${engine}-`));
  const node = await startOperator(home, dbLine);
  try {
    const putMs = await median(async (run) => {
      const ms = await putAll(node.url, "bench", `put_rows_${run}`);
      if ((await rowCount(node.url, "bench", `put_rows_${run}`)) !== ROWS) throw new Error(`${engine}: PUT rows missing`);
      return ms;
    });
    const fileMs = await median((run) => filesAll(node.url, home, "bench", `file_rows_${run}`));
    record(`REST PUT streaming -> ${engine}`, putMs, base);
    record(`watch-dir files -> ${engine}`, fileMs, base);
    if (engine === "SQLite") {
      const serialMs = await median(async (run) => {
        const ms = await putSerial(node.url, "bench", `serial_rows_${run}`);
        if ((await rowCount(node.url, "bench", `serial_rows_${run}`)) !== ROWS) throw new Error(`${engine}: serial PUT rows missing`);
        return ms;
      });
      const shaped = await median((run) => serialBaseline(true, false, run));
      const plain = await median((run) => serialBaseline(false, false, run));
      const synced = await median((run) => serialBaseline(true, true, run));
      const ratio = (b: number) => (b / serialMs).toFixed(2);
      serialResults.push([
        `REST PUT, ${SERIAL_PER_PUT.toLocaleString("en")} rows, one after another, write_immediate -> ${engine}`,
        rows(serialMs),
        `${(serialMs / serialBodies.length).toFixed(2)} ms`,
        rows(shaped),
        ratio(shaped),
        rows(plain),
        ratio(plain),
        rows(synced),
        ratio(synced),
      ]);
    }
  } finally {
    await node.stop();
  }
}

await measure("SQLite", "connect dbms bench where type = sqlite", { shaped: await median((run) => sqliteBaseline(true, run)), plain: await median((run) => sqliteBaseline(false, run)) });

let pg: PostgresServer | undefined;
try {
  pg = await PostgresServer.start();
} catch (e) {
  console.warn(`PostgreSQL figures skipped: ${e instanceof Error ? e.message : String(e)}`);
}
if (pg) {
  try {
    const base = { shaped: await median((run) => pgBaseline(pg!.port, true, run)), plain: await median((run) => pgBaseline(pg!.port, false, run)) };
    await measure("PostgreSQL", `connect dbms bench where type = psql and ip = 127.0.0.1 and port = ${pg.port} and user = postgres`, base);
  } finally {
    await pg.stop();
  }
}
rmSync(work, { recursive: true, force: true });

const today = new Date().toISOString().slice(0, 10);
const loadAfter = loadAverage();
report(
  `ingest, 5,000-row PUTs one after another (bench/ingest.ts), ${today}`,
  `${osName()}. Command: \`bun bench/ingest.ts --record\`. Load average (1, 5, 15 min) ${loadBefore} before, ${loadAfter} after the whole bench. Medians of ${RUNS} runs of ${ROWS.toLocaleString("en")} rows of 4 columns in ${serialBodies.length} PUTs of ${SERIAL_PER_PUT.toLocaleString("en")} rows (NDJSON), one client sending each PUT once the previous one is answered; the node is the compiled executable with \`set buffer threshold where write_immediate = true\`, no streamer (each PUT stored and synced before its answer), the operator with tsd_info. Baselines in the same run: a bun:sqlite loop doing per body JSON.parse of each line of the same body, then prepared inserts in one transaction per body; "same table" into the table the node makes (its CREATE statements), "plain" into the 4 data columns only, both with the node's pragmas (WAL, synchronous = NORMAL, no sync at commit); "synced" is the same table with synchronous = FULL (one WAL sync per body). Ratio = anylog rows/s ÷ baseline rows/s (goal ≥ 0.8 against the same table).`,
  ["path", "anylog", "per PUT", "baseline, same table", "ratio", "baseline, plain table", "ratio", "baseline, same table, synced", "ratio"],
  serialResults,
);
report(
  `ingest (bench/ingest.ts), ${today}`,
  `Command: \`bun bench/ingest.ts --record\`. Medians of ${RUNS} runs of ${ROWS.toLocaleString("en")} rows of 4 columns, ${PER_PUT} rows per PUT or file, ${IN_FLIGHT} PUTs in flight; the node is the compiled executable with the operator (tsd_info on, files deleted once stored), the client in the same machine. Baselines, in one transaction: a bun:sqlite prepared-insert loop (SQLite), the postgres package's 1,000-row inserts (PostgreSQL); "same table" inserts into the table the node makes (its CREATE statements: bookkeeping columns and tsd_id index), "plain" into a table of the 4 data columns only. Ratio = anylog rows/s ÷ baseline rows/s (goal ≥ 0.6). Load average (1, 5, 15 min) ${loadBefore} before, ${loadAfter} after the whole bench.`,
  ["path", "anylog", "baseline, same table", "ratio", "baseline, plain table", "ratio"],
  results,
);
process.exit(0);
