/**
 * Network query benchmark (issue #10): `select device, count(*), avg(value) ... group by
 * device` asked of a query node with `destination: network` over 3 loopback operators
 * (SQLite, 20,000 rows each), beside the same query asked of one node holding all 60,000 rows
 * in one local database, in one run:
 *  - latency p50 and p99 of QUERIES (300) queries one after another (goal: the network's p50
 *    at most 2 ms above the local p50);
 *  - queries/s with CLIENTS (16) clients at once for SECONDS (10);
 *  - /health latency (p50, p99) on the query node while HEALTH_CLIENTS (20) clients run the
 *    query (goal: p99 ≤ 50 ms: the node is never held by its queries).
 * Every answer is checked against the local one. Nodes are the compiled executable
 * (ANYLOG_BIN, else built by make). `--record` appends the table to bench/RESULTS.md.
 *
 *   bun bench/query-network.ts [--record]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePorts } from "../test/support/node-process.ts";
import { anylogBin, anylogVersion, type BenchNode, loadAverage, nodeCommand, osName, percentile, startNode } from "./lib/node.ts";
import { report } from "./lib/report.ts";

const QUERIES = Number(process.env.BENCH_QUERIES ?? 300);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 16);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const ROWS_PER_OPERATOR = 20_000;
const GOAL_OVERHEAD_MS = 2;
const HEALTH_CLIENTS = 20;
const GOAL_HEALTH_P99_MS = 50;
const QUERY = 'sql bench format = json and stat = false "select device, count(*), avg(value) from readings group by device order by device"';

const bin = anylogBin();
const work = mkdtempSync(join(tmpdir(), "anylog-bench-qnet-"));
const loadBefore = loadAverage();
const nodes: BenchNode[] = [];

async function node(name: string, tcp: number, extra: string[] = []): Promise<BenchNode> {
  const home = join(work, name);
  const n = await startNode(bin, mkdtempSync(`${home}-`), [
    `run tcp server where external_ip = 127.0.0.1 and external_port = ${tcp} and bind = true`,
    "connect dbms almgm where type = sqlite",
    "create table tsd_info where dbms = almgm",
    "connect dbms bench where type = sqlite",
    "set buffer threshold where write_immediate = true",
    "run operator where create_table = true and update_tsd_info = true",
    ...extra,
  ]);
  nodes.push(n);
  return n;
}

async function put(url: string, rows: object[]): Promise<void> {
  for (let i = 0; i < rows.length; i += 5000) {
    const r = await fetch(url, { method: "PUT", headers: { type: "json", dbms: "bench", table: "readings", mode: "streaming" }, body: rows.slice(i, i + 5000).map((x) => JSON.stringify(x)).join("\n") });
    if (!r.ok) throw new Error(`PUT: ${await r.text()}`);
  }
}

async function ask(url: string, headers: Record<string, string> = {}): Promise<string> {
  const r = await fetch(url, { headers: { command: QUERY, ...headers } });
  const text = await r.text();
  if (!r.ok) throw new Error(`query: ${r.status} ${text}`);
  return text;
}

/** Milliseconds of `n` queries one after another, sorted. */
async function latencies(url: string, headers: Record<string, string>, want: string): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < QUERIES; i++) {
    const t0 = performance.now();
    const got = await ask(url, headers);
    times.push(performance.now() - t0);
    if (got !== want) throw new Error(`an answer differs from one database's:\n${got}\n${want}`);
  }
  return times.sort((a, b) => a - b);
}

/** Queries answered per second with `clients` clients at once; with `probe`, /health timed every 20 ms meanwhile. */
async function throughput(url: string, headers: Record<string, string>, clients = CLIENTS, probe?: number[]): Promise<number> {
  const end = performance.now() + SECONDS * 1000;
  let done = 0;
  const health = async () => {
    while (probe && performance.now() < end) {
      const t0 = performance.now();
      await (await fetch(`${url}/health`)).text();
      probe.push(performance.now() - t0);
      await Bun.sleep(20);
    }
  };
  await Promise.all([
    health(),
    ...Array.from({ length: clients }, async () => {
      while (performance.now() < end) {
        await ask(url, headers);
        done++;
      }
    }),
  ]);
  return done / SECONDS;
}

try {
  const ports = await freePorts(5);
  const operators = await Promise.all([0, 1, 2].map((i) => node(`op${i}`, ports[i]!)));
  const single = await node("single", ports[3]!);
  const query = await node("query", ports[4]!);
  const all: object[] = [];
  for (const [i, op] of operators.entries()) {
    const rows = Array.from({ length: ROWS_PER_OPERATOR }, (_, k) => ({ device: `dev-${(k * 7 + i) % 50}`, value: ((k * 13 + i) % 1000) / 10, ts: `2026-11-0${1 + (k % 3)} 10:00:00` }));
    await put(op.url, rows);
    all.push(...rows);
  }
  await put(single.url, all);
  for (const [i, port] of ports.slice(0, 3).entries()) {
    await nodeCommand(query.url, `blockchain insert where policy = {"operator": {"name": "op${i}", "company": "bench", "ip": "127.0.0.1", "port": ${port}}} and local = true`, "POST");
  }
  await nodeCommand(query.url, 'blockchain insert where policy = {"table": {"name": "readings", "dbms": "bench", "create": "CREATE TABLE readings (device TEXT)"}} and local = true', "POST");

  const network = { destination: "network" };
  const want = await ask(single.url);
  if ((await ask(query.url, network)) !== want) throw new Error("the network's answer differs from one database's");
  for (let i = 0; i < 30; i++) await Promise.all([ask(single.url), ask(query.url, network)]); // warm-up
  const local = await latencies(single.url, {}, want);
  const net = await latencies(query.url, network, want);
  const localQps = await throughput(single.url, {});
  const netQps = await throughput(query.url, network);
  const health: number[] = [];
  const busyQps = await throughput(query.url, network, HEALTH_CLIENTS, health);
  health.sort((a, b) => a - b);
  const ms = (x: number) => `${x.toFixed(2)} ms`;
  const overhead = percentile(net, 50) - percentile(local, 50);
  report(
    "network query (bench/query-network.ts)",
    `${osName()}; \`${anylogVersion(bin)}\`. Command: \`bun bench/query-network.ts --record\`. Load average (1, 5, 15 min) ${loadBefore} before, ${loadAverage()} after. \`${QUERY}\`: asked of a query node with \`destination: network\` over 3 loopback operators (SQLite, ${ROWS_PER_OPERATOR.toLocaleString("en")} rows each), and of one node holding all ${(3 * ROWS_PER_OPERATOR).toLocaleString("en")} rows in one local database; ${QUERIES} queries one after another each (after 30 of warm-up), then ${CLIENTS} clients at once for ${SECONDS} s. Every sequential answer equal to the local one.`,
    ["asked of", "p50", "p90", "p99", "queries/s, 16 clients"],
    [
      ["query node, destination: network (3 operators)", ms(percentile(net, 50)), ms(percentile(net, 90)), ms(percentile(net, 99)), netQps.toFixed(0)],
      ["one node, local database (baseline)", ms(percentile(local, 50)), ms(percentile(local, 90)), ms(percentile(local, 99)), localQps.toFixed(0)],
    ],
    `Network overhead at p50: ${ms(overhead)} (goal ≤ ${GOAL_OVERHEAD_MS} ms: ${overhead <= GOAL_OVERHEAD_MS ? "met" : "not met"}). /health of the query node while ${HEALTH_CLIENTS} clients ran the network query (${busyQps.toFixed(0)} queries/s): ${health.length} probes, p50 ${ms(percentile(health, 50))}, p99 ${ms(percentile(health, 99))} (goal ≤ ${GOAL_HEALTH_P99_MS} ms: ${percentile(health, 99) <= GOAL_HEALTH_P99_MS ? "met" : "not met"}).`,
  );
} finally {
  await Promise.all(nodes.map((n) => n.stop()));
  rmSync(work, { recursive: true, force: true });
}
