/**
 * TLS benchmark (issue #13): REST requests/s over HTTPS beside plain HTTP, in the same run, on
 * the same home. The node makes its own CA and certificate (`id generate certificate ...`,
 * `id sign certificate request`) over plain REST and is timed there; then it is started again
 * with `run rest server ... ssl = true` and timed over HTTPS. Each is timed twice: REQUESTS
 * `get status` requests from CONCURRENCY clients on kept-alive connections (the cost of
 * encrypting), and on a new connection per request (the cost of the handshake). Ratio = HTTPS
 * requests/s ÷ HTTP requests/s. The node is the compiled executable (ANYLOG_BIN, else built
 * by make). `--record` appends the table to bench/RESULTS.md.
 *
 *   bun bench/tls.ts [--record]
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../test/support/node-process.ts";
import { anylogBin, anylogVersion, loadAverage, nodeCommand, osName, startNode } from "./lib/node.ts";
import { report } from "./lib/report.ts";

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 5_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);

const bin = anylogBin();
const work = mkdtempSync(join(tmpdir(), "anylog-bench-tls-"));
const home = join(work, "home");
const loadBefore = loadAverage();

type Fetcher = (close: boolean) => Promise<void>;

/** Requests/s of REQUESTS `get status` requests from CONCURRENCY clients. */
async function rate(one: Fetcher, close: boolean): Promise<number> {
  let left = REQUESTS;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (left-- > 0) await one(close);
    }),
  );
  return REQUESTS / ((performance.now() - t0) / 1000);
}

const fetcher =
  (url: string, tls?: { ca: string }): Fetcher =>
  async (close) => {
    const r = await fetch(url, { headers: { command: "get status", ...(close ? { connection: "close" } : {}) }, ...(tls ? { tls } : {}) });
    await r.text();
    if (!r.ok) throw new Error(`${url}: ${r.status}`);
  };

const plain: Record<string, number> = {};
const secure: Record<string, number> = {};
try {
  // plain REST; the node makes its certificates
  mkdirSync(home, { recursive: true });
  const a = await startNode(bin, home, []);
  try {
    await nodeCommand(a.url, "id generate certificate authority where org = Bench and hostname = bench-ca", "POST");
    await nodeCommand(a.url, "id generate certificate request where org = Node and hostname = localhost and ip = 127.0.0.1", "POST");
    await nodeCommand(a.url, "id sign certificate request where ca_org = Bench and server_org = Node", "POST");
    const f = fetcher(a.url);
    await rate(f, false); // warm-up
    plain.keep = await rate(f, false);
    plain.close = await rate(f, true);
  } finally {
    await a.stop();
  }

  // the same node, its REST server with ssl = true
  const port = await freePort();
  const script = join(home, "tls.al");
  writeFileSync(script, `run rest server 127.0.0.1 ${port} where bind = true and timeout = 120 and ssl = true and ca_org = Bench and server_org = Node\n`);
  const proc = Bun.spawn([bin, "start", "--script", script], { env: { ...process.env, ANYLOG_HOME: home, ANYLOG_LOG_LEVEL: "warn" }, stdout: "ignore", stderr: "inherit" });
  try {
    const url = `https://127.0.0.1:${port}`;
    const tls = { ca: readFileSync(join(home, "pem", "ca-bench-public-key.crt"), "utf8") };
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(`${url}/health`, { tls })).ok) break;
      } catch {
        if (i > 400 || proc.exitCode !== null) throw new Error("the HTTPS node did not start");
        await Bun.sleep(25);
      }
    }
    const f = fetcher(url, tls);
    await rate(f, false); // warm-up
    secure.keep = await rate(f, false);
    secure.close = await rate(f, true);
  } finally {
    proc.kill("SIGTERM");
    await proc.exited;
  }

  const row = (label: string, key: "keep" | "close") => [label, plain[key]!.toFixed(0), secure[key]!.toFixed(0), `${(secure[key]! / plain[key]!).toFixed(2)}x`];
  report(
    "TLS (bench/tls.ts)",
    `${osName()}; \`${anylogVersion(bin)}\`. Command: \`bun bench/tls.ts --record\`. Load average (1, 5, 15 min) ${loadBefore} before, ${loadAverage()} after. ${REQUESTS.toLocaleString("en")} \`get status\` requests from ${CONCURRENCY} concurrent clients (Bun's fetch), to the node's REST server over HTTP, then (same home, the node started again) with \`ssl = true\` and the ECDSA P-256 certificate the node signed itself; after one warm-up run each.`,
    ["connections", "HTTP requests/s", "HTTPS requests/s", "ratio HTTPS ÷ HTTP"],
    [row("kept alive", "keep"), row("new per request", "close")],
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
