/**
 * Blobs benchmark (issue #12): a BLOB_MB file (random bytes) stored with `file store` and
 * copied back out with `file retrieve`, through each blob store of one node (the blobs
 * folder, SQLite's and PostgreSQL's blobs tables, and MongoDB GridFS when
 * ANYLOG_TEST_MONGO_URL names a server), timed from the REST request to its answer; beside,
 * in the same run, a plain copy of the same file on the same disk, synced (the baseline). Each
 * figure is the median of RUNS runs; ratio = store MB/s ÷ copy MB/s. Nodes are the compiled executable
 * (ANYLOG_BIN, else built by make). `--record` appends the table to bench/RESULTS.md.
 *
 *   bun bench/blobs.ts [--record]
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PostgresServer } from "../test/support/postgres.ts";
import { anylogBin, anylogVersion, type BenchNode, loadAverage, median, nodeCommand, osName, startNode } from "./lib/node.ts";
import { report } from "./lib/report.ts";

const BLOB_MB = Number(process.env.BENCH_BLOB_MB ?? 64);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);

const bin = anylogBin();
const work = mkdtempSync(join(tmpdir(), "anylog-bench-blobs-"));
const loadBefore = loadAverage();
let node: BenchNode | undefined;
let pg: PostgresServer | undefined;

const seconds = async (work: () => Promise<unknown> | unknown) => {
  const t0 = performance.now();
  await work();
  return (performance.now() - t0) / 1000;
};

try {
  const source = join(work, "blob.bin");
  writeFileSync(source, randomBytes(BLOB_MB * 1024 * 1024));
  const bytes = statSync(source).size;
  pg = await PostgresServer.start();
  const mongo = process.env.ANYLOG_TEST_MONGO_URL ? new URL(process.env.ANYLOG_TEST_MONGO_URL) : undefined;
  node = await startNode(bin, mkdtempSync(join(work, "node-")), [
    "connect dbms blite where type = sqlite",
    `connect dbms bpg where type = psql and ip = 127.0.0.1 and port = ${pg.port} and user = postgres and password = x`,
    ...(mongo ? [`connect dbms bmongo where type = mongo and ip = ${mongo.hostname} and port = ${mongo.port || 27017}`] : []),
  ]);
  const stores: Array<[string, string]> = [
    ["folder (blobs_dir)", "bfolder"],
    ["SQLite blobs tables", "blite"],
    ["PostgreSQL blobs tables", "bpg"],
    ...(mongo ? ([["MongoDB GridFS", "bmongo"]] as Array<[string, string]>) : []),
  ];
  const out = join(work, "out");
  mkdirSync(out);
  // the baseline copies as the stores write: to disk, synced (dd conv=fsync), 1 MiB at a time
  const copy = async (i: number) => seconds(() => Bun.spawn(["dd", `if=${source}`, `of=${join(out, `cp-${i}.bin`)}`, "bs=1M", "conv=fsync", "status=none"]).exited);
  await copy(-1); // warm the page cache, as the stores' first read does
  const mbps = (s: number) => bytes / 1024 / 1024 / s;
  const rows: string[][] = [];
  const copies: number[] = [];
  for (let i = 0; i < RUNS; i++) copies.push(await copy(i));
  const base = mbps(median(copies));
  rows.push(["plain file copy, synced (baseline)", base.toFixed(0), "1.00x", base.toFixed(0), "1.00x"]);
  for (const [label, dbms] of stores) {
    const puts: number[] = [];
    const gets: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      puts.push(await seconds(() => nodeCommand(node!.url, `file store where dbms = ${dbms} and table = bench and file = ${source} and id = run${i}.bin`, "POST")));
      const dest = join(out, `${dbms}-${i}.bin`);
      gets.push(await seconds(() => nodeCommand(node!.url, `file retrieve where dbms = ${dbms} and table = bench and id = run${i}.bin and dest = ${dest}`, "POST")));
      if (statSync(dest).size !== bytes) throw new Error(`${label}: retrieved ${statSync(dest).size} of ${bytes} bytes`);
      rmSync(dest);
    }
    const put = mbps(median(puts));
    const get = mbps(median(gets));
    rows.push([label, put.toFixed(0), `${(put / base).toFixed(2)}x`, get.toFixed(0), `${(get / base).toFixed(2)}x`]);
  }
  report(
    "blobs (bench/blobs.ts)",
    `${osName()}; \`${anylogVersion(bin)}\`. Command: \`bun bench/blobs.ts --record\`. Load average (1, 5, 15 min) ${loadBefore} before, ${loadAverage()} after. A ${BLOB_MB} MiB file of random bytes stored with \`file store ... file = <path>\` and written back out with \`file retrieve ... dest = <path>\` through each store of one node, timed from the REST request to its answer (the store hashes the file, then writes it in 1 MiB chunks); median of ${RUNS} runs. Baseline in the same run: the same file copied on the same disk and synced (\`dd bs=1M conv=fsync\`), as the stores sync what they write.${mongo ? "" : " MongoDB not measured (no server here: set ANYLOG_TEST_MONGO_URL)."}`,
    ["store", "file store MB/s", "ratio to copy", "file retrieve MB/s", "ratio to copy"],
    rows,
  );
} finally {
  await node?.stop();
  await pg?.stop();
  rmSync(work, { recursive: true, force: true });
}
