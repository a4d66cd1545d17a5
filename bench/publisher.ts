/**
 * Publisher benchmark (issue #11): FILES data files of ROWS rows each dropped into a
 * publisher's watch directory, sent over TCP to one operator and stored there, timed until
 * the operator's `count(*)` has every row; beside, in the same run, the same number of files
 * (other rows, another table) dropped straight into that operator's watch directory. Ratio
 * = files/s through the publisher ÷ files/s into the watch directory. Nodes are the compiled
 * executable (ANYLOG_BIN, else built by make). `--record` appends the table to
 * bench/RESULTS.md.
 *
 *   bun bench/publisher.ts [--record]
 */
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePorts } from "../test/support/node-process.ts";
import { anylogBin, anylogVersion, type BenchNode, loadAverage, nodeCommand, osName, rowCount, startNode } from "./lib/node.ts";
import { report } from "./lib/report.ts";

const FILES = Number(process.env.BENCH_FILES ?? 1000);
const ROWS = Number(process.env.BENCH_ROWS ?? 1000);

const bin = anylogBin();
const work = mkdtempSync(join(tmpdir(), "anylog-bench-pub-"));
const loadBefore = loadAverage();
const nodes: BenchNode[] = [];

/** A file's rows: unique per table and file. */
const body = (file: number) => Array.from({ length: ROWS }, (_, i) => JSON.stringify({ file, i, device: `dev-${i % 50}`, value: (i % 1000) / 10 })).join("\n");

/** Writes every file into `dir` (each written aside, then renamed in); resolves once all are there. */
function dropAll(dir: string, table: string): void {
  mkdirSync(dir, { recursive: true });
  for (let f = 0; f < FILES; f++) {
    const name = `bench.${table}.pub.${f}.json`;
    writeFileSync(join(dir, `.${name}.part`), body(f));
    renameSync(join(dir, `.${name}.part`), join(dir, name));
  }
}

/** Seconds from dropping the files into `dir` to `table` holding every row on the operator. */
async function timed(operatorUrl: string, dir: string, table: string): Promise<number> {
  const t0 = performance.now();
  dropAll(dir, table);
  while ((await rowCount(operatorUrl, "bench", table)) < FILES * ROWS) await Bun.sleep(20);
  return (performance.now() - t0) / 1000;
}

try {
  const [opTcp, pubTcp] = (await freePorts(2)) as [number, number];
  const opHome = mkdtempSync(join(work, "op-"));
  const operator = await startNode(bin, opHome, [
    `run tcp server where external_ip = 127.0.0.1 and external_port = ${opTcp} and bind = true`,
    "connect dbms almgm where type = sqlite",
    "create table tsd_info where dbms = almgm",
    "connect dbms bench where type = sqlite",
    "set buffer threshold where write_immediate = true",
    `run operator where create_table = true and update_tsd_info = true and watch_dir = ${join(opHome, "watch")}`,
  ]);
  nodes.push(operator);
  const pubHome = mkdtempSync(join(work, "pub-"));
  const publisher = await startNode(bin, pubHome, [
    `run tcp server where external_ip = 127.0.0.1 and external_port = ${pubTcp} and bind = true`,
    `blockchain insert where policy = {"operator": {"name": "op", "company": "bench", "ip": "127.0.0.1", "port": ${opTcp}}} and local = true`,
    `run publisher where watch_dir = ${join(pubHome, "watch")} and delete_json = true`,
  ]);
  nodes.push(publisher);
  // the table policies the publisher routes by
  for (const table of ["warm", "through_publisher"]) {
    await nodeCommand(publisher.url, `blockchain insert where policy = {"table": {"name": "${table}", "dbms": "bench", "create": "CREATE TABLE ${table} (file INT)"}} and local = true`, "POST");
  }
  await timed(operator.url, join(pubHome, "watch"), "warm");
  const direct = await timed(operator.url, join(opHome, "watch"), "into_watch_dir");
  const through = await timed(operator.url, join(pubHome, "watch"), "through_publisher");
  const rate = (s: number) => `${(FILES / s).toFixed(1)} files/s, ${Math.round((FILES * ROWS) / s).toLocaleString("en")} rows/s`;
  report(
    "publisher (bench/publisher.ts)",
    `${osName()}; \`${anylogVersion(bin)}\`. Command: \`bun bench/publisher.ts --record\`. Load average (1, 5, 15 min) ${loadBefore} before, ${loadAverage()} after. ${FILES} files of ${ROWS.toLocaleString("en")} rows (NDJSON, 4 columns) dropped at once into a publisher's watch directory, sent over loopback TCP to one operator (SQLite, write_immediate, tsd_info) and stored, timed until the operator counts every row; baseline in the same run: as many files (other rows, another table) dropped straight into the operator's watch directory. After one warm-up run through the publisher.`,
    ["path", "seconds", "throughput", "ratio"],
    [
      ["publisher → TCP → operator", through.toFixed(2), rate(through), `${(direct / through).toFixed(2)}x`],
      ["operator's watch directory (baseline)", direct.toFixed(2), rate(direct), "1.00x"],
    ],
  );
} finally {
  await Promise.all(nodes.map((n) => n.stop()));
  rmSync(work, { recursive: true, force: true });
}
