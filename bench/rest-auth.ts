/**
 * REST users benchmark (issue #13): `get status` requests/s with user authentication on
 * (HTTP Basic, an admin; a header checked once is trusted for a minute, so the argon2id check
 * is paid once per client) beside the same node with it off, in the same run. Ratio = on ÷
 * off (goal ≥ 0.9). The node is the compiled executable (ANYLOG_BIN, else built by make).
 * `--record` appends the table to bench/RESULTS.md.
 *
 *   bun bench/rest-auth.ts [--record]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { anylogBin, anylogVersion, loadAverage, nodeCommand, osName, startNode } from "./lib/node.ts";
import { report } from "./lib/report.ts";

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 10_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const GOAL = 0.9;

const bin = anylogBin();
const work = mkdtempSync(join(tmpdir(), "anylog-bench-auth-"));
const loadBefore = loadAverage();

/** Requests/s of REQUESTS `get status` requests from CONCURRENCY clients with `headers`. */
async function rate(url: string, headers: Record<string, string>): Promise<number> {
  let left = REQUESTS;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (left-- > 0) {
        const r = await fetch(url, { headers: { command: "get status", ...headers } });
        await r.text();
        if (!r.ok) throw new Error(`${r.status}`);
      }
    }),
  );
  return REQUESTS / ((performance.now() - t0) / 1000);
}

const node = await startNode(bin, mkdtempSync(join(work, "home-")), []);
try {
  const credentials = { Authorization: `Basic ${Buffer.from("bench:bench-password-1").toString("base64")}` };
  await nodeCommand(node.url, "id add user where name = bench and password = bench-password-1 and type = admin", "POST");
  // off and on in turn, three rounds each, medians (the machine's load moves between runs)
  const offs: number[] = [];
  const ons: number[] = [];
  const set = (state: string) => fetch(node.url, { method: "POST", headers: { command: `set user authentication ${state}`, ...credentials } }).then((r) => r.text());
  await rate(node.url, {}); // warm-up
  for (let round = 0; round < 3; round++) {
    offs.push(await rate(node.url, {}));
    await set("on");
    ons.push(await rate(node.url, credentials));
    await set("off");
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const off = median(offs);
  const on = median(ons);
  const ratio = on / off;
  report(
    "REST users (bench/rest-auth.ts)",
    `${osName()}; \`${anylogVersion(bin)}\`. Command: \`bun bench/rest-auth.ts --record\`. Load average (1, 5, 15 min) ${loadBefore} before, ${loadAverage()} after. ${REQUESTS.toLocaleString("en")} \`get status\` requests from ${CONCURRENCY} concurrent clients (Bun's fetch, kept-alive), to one node with user authentication off, then on (HTTP Basic of an admin; argon2id, 19 MiB, 2 passes, checked once per header a minute); off and on in turn, three runs each, medians, after one warm-up run.`,
    ["authentication", "requests/s", "ratio", `goal ≥ ${GOAL}`],
    [
      ["off (baseline)", off.toFixed(0), "1.00x", ""],
      ["on, HTTP Basic", on.toFixed(0), `${ratio.toFixed(2)}x`, ratio >= GOAL ? "met" : "not met"],
    ],
  );
} finally {
  await node.stop();
  rmSync(work, { recursive: true, force: true });
}
