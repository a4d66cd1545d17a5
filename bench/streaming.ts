/**
 * Streaming benchmark (issue #9): many small PUTs, as a gateway sends them. CLIENTS (16)
 * clients, each a keep-alive fetch loop sending one one-row PUT after another for SECONDS
 * (BENCH_SECONDS, 10), against three servers in one run:
 *  - the node with `set buffer threshold where time = 60 seconds and volume = 10KB` and
 *    `run streamer`: each PUT answered once its row is in the journal (journal mode);
 *  - the node with `set buffer threshold where write_immediate = true`: each PUT stored
 *    (and synced) before its answer;
 *  - the baseline: a bare Bun.serve, compiled by the same bun, reading each PUT's body and
 *    answering it with the node's JSON reply and nothing else.
 * Per server: requests/s and latency p50, p90, p99 and max (each the median of BENCH_RUNS
 * runs, 3, the servers taking turns), with ratios against the baseline. After every run
 * each node is told `flush buffers` and its table counted: it must hold exactly one row per
 * acknowledged PUT. Both nodes are the compiled executable (ANYLOG_BIN, else built by make)
 * with an operator, SQLite. `--record` appends the table to bench/RESULTS.md.
 *
 *   bun bench/streaming.ts [--record]
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../test/support/node-process.ts";
import { anylogBin, anylogVersion, type BenchNode, loadAverage, median, nodeCommand, osName, percentile, rowCount, startNode } from "./lib/node.ts";
import { report } from "./lib/report.ts";

const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 16);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const WARMUP_SECONDS = 2;
const DBMS = "bench";
const TABLE = "stream_rows";
/** Goals of issue #9 for journal mode. */
const GOAL_P50_MS = 5;
const GOAL_P99_MS = 50;

const bin = anylogBin();
const work = mkdtempSync(join(tmpdir(), "anylog-bench-streaming-"));
const loadBefore = loadAverage();

/** A server under load: where to send, and (nodes) how to check what it stored. */
interface Server {
  name: string;
  url: string;
  node?: BenchNode;
  stop(): Promise<void>;
  /** PUTs acknowledged so far (warm-up included): the rows its table must hold. */
  acked: number;
  /** Rows its table held at the last check. */
  rows?: number;
}

async function nodeServer(name: string, thresholdLines: string[]): Promise<Server> {
  const home = mkdtempSync(join(work, "node-"));
  const node = await startNode(bin, home, [
    "connect dbms almgm where type = sqlite",
    "create table tsd_info where dbms = almgm",
    `connect dbms ${DBMS} where type = sqlite`,
    ...thresholdLines,
    "run operator where create_table = true and update_tsd_info = true and delete_json = true",
  ]);
  return { name, url: node.url, node, stop: node.stop, acked: 0 };
}

/** The baseline: Bun.serve compiled by this bun, reading the body and answering the node's reply. */
async function bareServer(): Promise<Server> {
  const src = join(work, "bare.ts");
  writeFileSync(
    src,
    `const reply = JSON.stringify({ "AnyLog.status": "Success", "AnyLog.hash": "0123456789abcdef0123456789abcdef" });
Bun.serve({ hostname: "127.0.0.1", port: Number(process.argv[2]), async fetch(req) { await req.text(); return new Response(reply, { headers: { "content-type": "application/json" } }); } });
`,
  );
  const exe = join(work, "bare");
  const arch = process.arch === "arm64" ? "arm64" : "x64";
  if (spawnSync(process.execPath, ["build", "--compile", `--target=bun-linux-${arch}`, src, "--outfile", exe], { stdio: ["ignore", "ignore", "inherit"] }).status !== 0) throw new Error("cannot compile the baseline");
  const port = await freePort();
  const proc = Bun.spawn([exe, String(port)], { stdout: "ignore", stderr: "inherit" });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      await (await fetch(url, { method: "PUT", body: "{}" })).text();
      break;
    } catch {
      if (i > 400) throw new Error("the baseline did not start");
      await Bun.sleep(25);
    }
  }
  return {
    name: "bare Bun.serve (baseline)",
    url,
    acked: 0,
    stop: async () => {
      proc.kill("SIGTERM");
      await proc.exited;
    },
  };
}

let seq = 0;
/** One row, different in every PUT (the node takes a body it already stored as a duplicate). */
const body = () => {
  const i = seq++;
  return JSON.stringify({ id: i, ts: `2026-01-01 00:00:${String(i % 60).padStart(2, "0")}`, device: `dev-${i % 50}`, value: (i % 1000) / 10 + 0.05 }); // never a whole number: always a float column
};

interface Run {
  acked: number;
  errors: number;
  firstError?: string;
  ms: number;
  /** Latency of each acknowledged PUT, ms, sorted. */
  latencies: Float64Array;
}

/** CLIENTS keep-alive clients, each sending one PUT after another until `seconds` are over; every answer read. */
async function load(server: Server, seconds: number): Promise<Run> {
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        try {
          const r = await fetch(server.url, { method: "PUT", headers: { type: "json", dbms: DBMS, table: TABLE, mode: "streaming" }, body: body() });
          const text = await r.text();
          if (r.ok) latencies.push(performance.now() - t);
          else {
            errors++;
            firstError ??= `${r.status} ${text}`;
          }
        } catch (e) {
          errors++;
          firstError ??= e instanceof Error ? e.message : String(e);
        }
      }
    }),
  );
  const ms = performance.now() - t0;
  server.acked += latencies.length;
  return { acked: latencies.length, errors, firstError, ms, latencies: Float64Array.from(latencies).sort() };
}

/** After `flush buffers`, the node's table must hold one row per acknowledged PUT; the check's line. */
async function check(server: Server): Promise<string> {
  if (!server.node) return "";
  await nodeCommand(server.url, "flush buffers", "POST");
  const t0 = performance.now();
  let rows = await rowCount(server.url, DBMS, TABLE);
  // flush buffers writes them before it answers; wait a little in case anything lags
  while (rows !== server.acked && performance.now() - t0 < 10_000) {
    await Bun.sleep(50);
    rows = await rowCount(server.url, DBMS, TABLE);
  }
  server.rows = rows;
  const line = `${server.name}: ${rows.toLocaleString("en")} rows after flush buffers, ${server.acked.toLocaleString("en")} PUTs acknowledged: ${rows === server.acked ? "OK" : "MISMATCH"}`;
  if (rows !== server.acked) throw new Error(line);
  return line;
}

const servers: Server[] = [];
try {
  servers.push(await nodeServer("node, journal (time 60 s, volume 10KB, streamer)", ["set buffer threshold where time = 60 seconds and volume = 10KB", "run streamer"]));
  servers.push(await nodeServer("node, write_immediate", ["set buffer threshold where write_immediate = true"]));
  servers.push(await bareServer());
} catch (e) {
  for (const s of servers) await s.stop();
  throw e;
}
const [journal, immediate, bare] = servers as [Server, Server, Server];

const runs = new Map<Server, Run[]>(servers.map((s) => [s, []]));
const checks: string[] = [];
try {
  for (const s of servers) {
    const w = await load(s, WARMUP_SECONDS); // creates the table, warms the JIT and the connections
    if (w.errors) throw new Error(`${s.name}: ${w.errors} PUTs failed: ${w.firstError}`);
    await check(s);
  }
  for (let run = 0; run < RUNS; run++) {
    for (const s of servers) {
      const r = await load(s, SECONDS);
      runs.get(s)!.push(r);
      const line = await check(s);
      const lat = r.latencies;
      console.log(
        `run ${run + 1} ${s.name}: ${Math.round(r.acked / (r.ms / 1000))} PUTs/s, p50 ${percentile(lat, 50).toFixed(2)} ms, p99 ${percentile(lat, 99).toFixed(2)} ms, max ${percentile(lat, 100).toFixed(1)} ms${r.errors ? `, ${r.errors} errors (${r.firstError})` : ""}${line ? `; ${line}` : ""}`,
      );
      if (r.errors) throw new Error(`${s.name}: ${r.errors} PUTs failed: ${r.firstError}`);
      if (line && run === RUNS - 1) checks.push(line);
    }
  }
} finally {
  for (const s of servers) await s.stop();
  rmSync(work, { recursive: true, force: true });
}
const loadAfter = loadAverage();

interface Figures {
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}
const figures = (s: Server): Figures => {
  const rs = runs.get(s)!;
  return {
    rps: median(rs.map((r) => r.acked / (r.ms / 1000))),
    p50: median(rs.map((r) => percentile(r.latencies, 50))),
    p90: median(rs.map((r) => percentile(r.latencies, 90))),
    p99: median(rs.map((r) => percentile(r.latencies, 99))),
    max: median(rs.map((r) => percentile(r.latencies, 100))),
  };
};
const base = figures(bare);
const ms = (x: number, b: number, same: boolean) => `${x.toFixed(x < 10 ? 2 : 1)} ms${same ? "" : ` (${(x / b).toFixed(1)}x)`}`;
const rows = servers.map((s) => {
  const f = figures(s);
  const same = s === bare;
  return [
    s.name,
    `${Math.round(f.rps).toLocaleString("en")}${same ? "" : ` (${(f.rps / base.rps).toFixed(2)}x)`}`,
    ms(f.p50, base.p50, same),
    ms(f.p90, base.p90, same),
    ms(f.p99, base.p99, same),
    ms(f.max, base.max, same),
    s.node ? `${(s.rows ?? 0).toLocaleString("en")} rows, ${s.acked.toLocaleString("en")} PUTs: ${s.rows === s.acked ? "equal" : "DIFFER"}` : "",
  ];
});
const j = figures(journal);
const goal = (what: string, x: number, limit: number) => `${what} ${x.toFixed(2)} ms (goal ≤ ${limit} ms: ${x <= limit ? "met" : "NOT met"})`;
const verdict = `Journal mode: ${goal("p50", j.p50, GOAL_P50_MS)}, ${goal("p99", j.p99, GOAL_P99_MS)}. write_immediate for comparison: p50 ${figures(immediate).p50.toFixed(2)} ms, p99 ${figures(immediate).p99.toFixed(2)} ms.`;
console.log(`\n${verdict}\n${checks.join("\n")}\n`);

report(
  `streaming (bench/streaming.ts), ${new Date().toISOString().slice(0, 10)}`,
  `${osName()}; \`${anylogVersion(bin)}\`. Command: \`bun bench/streaming.ts --record\`. Load average (1, 5, 15 min) ${loadBefore} before, ${loadAfter} after. ${CLIENTS} clients, each a keep-alive fetch loop in one bun process sending one one-row PUT (4 columns, ~75 bytes of JSON) after another for ${SECONDS} s, against each server in turn, ${RUNS} turns after a ${WARMUP_SECONDS} s warm-up; each figure is the median of the ${RUNS} runs, the ratio (in brackets) against the bare Bun.serve of the same run. Latency: from the fetch call to the whole answer read. Nodes: the compiled executable, SQLite, operator with tsd_info; after every run \`flush buffers\`, then \`select count(*)\` must equal the PUTs acknowledged so far (last column: rows = acknowledged, warm-up included).`,
  ["server", "PUTs/s", "p50", "p90", "p99", "max", "after flush buffers: count(*), acknowledged"],
  rows,
  verdict,
);
process.exit(0);
