/**
 * Node authentication benchmark (issue #13): peer requests/s (`get status`, 16 in flight on
 * one connection, as a node's pooled connection carries them) to a node with node
 * authentication off, then on — each request then sealed by the sender (Ed25519 over the
 * command and a digest of the body) and checked by the receiver (a member's key, the time,
 * the signature, not seen before) — in turn, three runs each, medians. Also with a 64 KB body
 * (a publisher's file), whose sha-256 both sides add. Ratio = on ÷ off. The asker is this
 * process, a member of the node's network (the root); the node is the compiled executable.
 * `--record` appends the table to bench/RESULTS.md.
 *
 *   bun bench/peer-auth.ts [--record]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { preparePolicy } from "../src/metadata/policy.ts";
import { signPolicy } from "../src/metadata/signatures.ts";
import { TcpTransport } from "../src/network/tcp-transport.ts";
import type { PeerRequest } from "../src/network/transport.ts";
import { createKeys, unlock } from "../src/security/keys.ts";
import { seal } from "../src/security/peer-auth.ts";
import { anylogBin, anylogVersion, loadAverage, nodeCommand, osName, startNode } from "./lib/node.ts";
import { freePort } from "../test/support/node-process.ts";
import { report } from "./lib/report.ts";

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 20_000);
const IN_FLIGHT = 16;

const bin = anylogBin();
const work = mkdtempSync(join(tmpdir(), "anylog-bench-peer-auth-"));
const loadBefore = loadAverage();

const made = createKeys("bench-secret");
if (!made.ok) throw new Error(made.error.message);
const opened = unlock(made.value.privatePem, "bench-secret");
if (!opened.ok) throw new Error(opened.error.message);
const key = opened.value;

/** Requests/s of REQUESTS requests, IN_FLIGHT at a time, sealed when `signed`. */
async function rate(peer: string, transport: TcpTransport, body: Uint8Array | undefined, signed: boolean): Promise<number> {
  let left = REQUESTS;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (left-- > 0) {
        const request: PeerRequest = { command: "get status", from: "bench", body };
        const r = await transport.request(peer, signed ? { ...request, auth: seal(key, request) } : request, 30_000);
        if (!r.ok || !r.value.ok) throw new Error(r.ok ? (r.value as { message: string }).message : r.error.message);
      }
    }),
  );
  return REQUESTS / ((performance.now() - t0) / 1000);
}

const tcp = await freePort();
const node = await startNode(bin, mkdtempSync(join(work, "home-")), [
  `run tcp server where external_ip = 127.0.0.1 and external_port = ${tcp} and bind = true`,
  "id create keys for node where password = node-secret",
]);
const transport = new TcpTransport();
try {
  const declared = preparePolicy({ member: { type: "root", name: "bench" } });
  if (!declared.ok) throw new Error(declared.error.message);
  const root = preparePolicy(signPolicy(declared.value, key));
  if (!root.ok) throw new Error(root.error.message);
  await nodeCommand(node.url, `blockchain insert where policy = ${JSON.stringify(root.value)} and local = true`, "POST");
  const peer = `127.0.0.1:${tcp}`;
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const rows: string[][] = [];
  for (const [label, body] of [["no body", undefined], ["64 KB body", new Uint8Array(64 * 1024).fill(7)]] as const) {
    const offs: number[] = [];
    const ons: number[] = [];
    await nodeCommand(node.url, "set node authentication off", "POST");
    await rate(peer, transport, body, false); // warm-up
    for (let round = 0; round < 3; round++) {
      await nodeCommand(node.url, "set node authentication off", "POST");
      offs.push(await rate(peer, transport, body, false));
      await nodeCommand(node.url, "set node authentication on", "POST");
      ons.push(await rate(peer, transport, body, true));
    }
    const off = median(offs);
    const on = median(ons);
    rows.push([label, off.toFixed(0), on.toFixed(0), `${(on / off).toFixed(2)}x`]);
  }
  report(
    "node authentication (bench/peer-auth.ts)",
    `${osName()}; \`${anylogVersion(bin)}\`. Command: \`bun bench/peer-auth.ts --record\`. Load average (1, 5, 15 min) ${loadBefore} before, ${loadAverage()} after. ${REQUESTS.toLocaleString("en")} peer requests (\`get status\`) from this process, ${IN_FLIGHT} in flight on one connection, to one node with node authentication off, then on (each request sealed here with Ed25519 over the command and the body's sha-256, checked there against the member keys, the clock and the signatures seen); off and on in turn, three runs each, medians, after one warm-up run.`,
    ["request", "requests/s, off", "requests/s, on", "on ÷ off"],
    rows,
  );
} finally {
  await transport.close();
  await node.stop();
  rmSync(work, { recursive: true, force: true });
}
