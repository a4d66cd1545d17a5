/**
 * HA catch-up benchmark (issue #12): two operators A and B of one cluster, each running
 * `run data distributor` and `run data consumer`. B is stopped, UNITS PUTs of ROWS rows
 * (100,000 rows by default) are stored on A, then B is started again and timed until it
 * holds every row. Beside, in the same run, the same number of PUTs stored straight on B
 * (another table): the baseline of storing them at all. Ratio = baseline seconds ÷ catch-up
 * seconds. Nodes are the compiled executable (ANYLOG_BIN, else built by make). `--record`
 * appends the table to bench/RESULTS.md.
 *
 *   bun bench/ha.ts [--record]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePorts } from "../test/support/node-process.ts";
import { anylogBin, anylogVersion, type BenchNode, loadAverage, osName, rowCount, startNode } from "./lib/node.ts";
import { report } from "./lib/report.ts";

const UNITS = Number(process.env.BENCH_UNITS ?? 100);
const ROWS = Number(process.env.BENCH_ROWS ?? 1000);

const bin = anylogBin();
const work = mkdtempSync(join(tmpdir(), "anylog-bench-ha-"));
const loadBefore = loadAverage();
const nodes: BenchNode[] = [];

const body = (unit: number) => Array.from({ length: ROWS }, (_, i) => JSON.stringify({ unit, i, device: `dev-${i % 50}`, value: (i % 1000) / 10 })).join("\n");

async function putAll(url: string, table: string): Promise<void> {
  for (let u = 0; u < UNITS; u++) {
    const r = await fetch(url, { method: "PUT", headers: { type: "json", dbms: "bench", table, mode: "streaming", "Content-Type": "text/plain" }, body: body(u) });
    if (!r.ok) throw new Error(`PUT ${table}: ${r.status} ${await r.text()}`);
  }
}

try {
  const [aTcp, bTcp] = (await freePorts(2)) as [number, number];
  const policies = ['{"cluster": {"name": "c", "company": "bench"}}'];
  const lines = (tcp: number) => [
    `run tcp server where external_ip = 127.0.0.1 and external_port = ${tcp} and bind = true`,
    "connect dbms almgm where type = sqlite",
    "create table tsd_info where dbms = almgm",
    "connect dbms bench where type = sqlite",
    "set buffer threshold where write_immediate = true",
    ...policies.map((p) => `blockchain insert where policy = ${p} and local = true`),
    "cluster_id = blockchain get cluster where name = c bring.first [cluster][id]",
    `blockchain insert where policy = {"operator": {"name": "a", "company": "bench", "ip": "127.0.0.1", "port": ${aTcp}, "cluster": !cluster_id}} and local = true`,
    `blockchain insert where policy = {"operator": {"name": "b", "company": "bench", "ip": "127.0.0.1", "port": ${bTcp}, "cluster": !cluster_id}} and local = true`,
    "run data distributor",
    "run data consumer where start_date = -1d",
    "run operator where create_table = true and update_tsd_info = true",
  ];
  const aHome = mkdtempSync(join(work, "a-"));
  const bHome = mkdtempSync(join(work, "b-"));
  const a = await startNode(bin, aHome, lines(aTcp));
  nodes.push(a);
  let b = await startNode(bin, bHome, lines(bTcp));
  nodes.push(b);

  // the baseline: the PUTs stored straight on B
  let t0 = performance.now();
  await putAll(b.url, "direct");
  const direct = (performance.now() - t0) / 1000;
  while ((await rowCount(a.url, "bench", "direct")) < UNITS * ROWS) await Bun.sleep(50); // (and replicated to A, before B stops)

  // B away while A stores; then B back, timed until it holds every row
  await b.stop();
  nodes.splice(nodes.indexOf(b), 1);
  await putAll(a.url, "while_away");
  t0 = performance.now();
  b = await startNode(bin, bHome, lines(bTcp));
  nodes.push(b);
  while ((await rowCount(b.url, "bench", "while_away").catch(() => 0)) < UNITS * ROWS) await Bun.sleep(50);
  const catchUp = (performance.now() - t0) / 1000;
  const stored = await rowCount(b.url, "bench", "while_away");
  if (stored !== UNITS * ROWS) throw new Error(`B holds ${stored} rows of ${UNITS * ROWS}`);
  const rate = (s: number) => `${(UNITS / s).toFixed(1)} units/s, ${Math.round((UNITS * ROWS) / s).toLocaleString("en")} rows/s`;
  report(
    "HA catch-up (bench/ha.ts)",
    `${osName()}; \`${anylogVersion(bin)}\`. Command: \`bun bench/ha.ts --record\`. Load average (1, 5, 15 min) ${loadBefore} before, ${loadAverage()} after. Two operators of one cluster (SQLite, write_immediate, tsd_info, distributor and consumer). B stopped, ${UNITS} PUTs of ${ROWS.toLocaleString("en")} rows stored on A, B started again: timed from its start until it holds all ${(UNITS * ROWS).toLocaleString("en")} rows (its start included). Baseline in the same run: the same number of PUTs stored straight on B.`,
    ["path", "seconds", "throughput", "ratio"],
    [
      ["B catches up after the outage (start, then pull from A / A's push)", catchUp.toFixed(2), rate(catchUp), `${(direct / catchUp).toFixed(2)}x`],
      ["PUT straight to B (baseline)", direct.toFixed(2), rate(direct), "1.00x"],
    ],
  );
} finally {
  await Promise.all(nodes.map((n) => n.stop()));
  rmSync(work, { recursive: true, force: true });
}
