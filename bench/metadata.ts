/**
 * Metadata benchmark (issue #3): `blockchain get` latency with 100,000 policies in the local
 * copy, and the time to sync 10,000 new policies from a master. Each figure is printed
 * beside a baseline measured in the same run:
 *  - look-up: the whole command (parse, bind, indexed select, bring) against a bare
 *    `Array.filter` over the same 100,000 policies (what a copy without indexes does);
 *  - sync: pulling 10,000 policies over the peer protocol and writing the copy, against
 *    `JSON.parse` of the same payload plus one atomic write of the same file (the work no
 *    sync can avoid).
 * `--record` appends the table to bench/RESULTS.md.
 */
import "../src/features.ts";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Node } from "../src/node/node.ts";
import { LocalCopy } from "../src/metadata/local-copy.ts";
import { insertPolicy } from "../src/metadata/master-ledger.ts";
import { type Policy, preparePolicy } from "../src/metadata/policy.ts";
import { writeFileAtomic } from "../src/util/atomic-file.ts";
import { report } from "./lib/report.ts";

const work = mkdtempSync(join(tmpdir(), "anylog-bench-md-"));
const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;
const ms = (x: number) => `${x.toFixed(3)} ms`;

function operator(i: number): Policy {
  const p = preparePolicy(
    { operator: { name: `op-${i}`, company: `company-${i % 100}`, ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, port: 32148, cluster: `c-${i % 1000}` } },
    new Date(0),
  );
  if (!p.ok) throw new Error(p.error.message);
  return p.value;
}

// ---- 1. look-up with 100,000 policies in the local copy
const N = 100_000;
const policies = Array.from({ length: N }, (_, i) => operator(i));
const home = join(work, "lookup");
const node = new Node({ env: { ANYLOG_HOME: home } });
const seeded = LocalCopy.load(node.dictionary.lookup("blockchain_file")!);
if (!seeded.ok) throw new Error(seeded.error.message);
for (const p of policies) seeded.value.add(p);
seeded.value.save();

const t0 = performance.now();
const warm = await node.execute("blockchain get operator where name = op-1 bring [operator][ip]");
const firstMs = performance.now() - t0; // load of the 100,000-policy file and first index build
if (!warm.ok) throw new Error(warm.error.message);

const LOOKUPS = 2000;
const keys = Array.from({ length: LOOKUPS }, (_, i) => (i * 7919) % N);
const lookup: number[] = [];
for (const k of keys) {
  const s = performance.now();
  const r = await node.execute(`blockchain get operator where name = op-${k} bring [operator][ip]`);
  lookup.push(performance.now() - s);
  if (!r.ok || r.value === "") throw new Error(`look-up of op-${k} failed`);
}
const scan: number[] = [];
for (const k of keys.slice(0, 200)) {
  const s = performance.now();
  const found = policies.filter((p) => p.operator!.name === `op-${k}`);
  scan.push(performance.now() - s);
  if (found.length !== 1) throw new Error("baseline scan failed");
}

// ---- 2. sync of 10,000 new policies
const M = 10_000;
const master = new Node({ env: { ANYLOG_HOME: join(work, "master") } });
const follower = new Node({ env: { ANYLOG_HOME: join(work, "follower") } });
for (const cmd of ["run tcp server 127.0.0.1 0 where bind = true", "connect dbms blockchain where type = sqlite", "create table ledger where dbms = blockchain"]) {
  const r = await master.execute(cmd);
  if (!r.ok) throw new Error(`${cmd}: ${r.error.message}`);
}
const masterAddress = String(master.processes.get("TCP")!.info().listening);
const db = master.databases.get("blockchain")!;
const tInsert = performance.now();
await db.transaction(async (tx) => {
  for (let i = 0; i < M; i++) {
    const r = await insertPolicy(tx, operator(N + i), "bench");
    if (!r.ok) return r;
  }
  return { ok: true, value: undefined };
});
const insertMs = performance.now() - tInsert;

const tSync = performance.now();
const synced = await follower.metadata.syncOnce(masterAddress, { file: true, dbms: false });
const syncMs = performance.now() - tSync;
if (!synced.ok || synced.value.pulled !== M) throw new Error(`sync failed: ${synced.ok ? synced.value.pulled : synced.error.message}`);

const payload = JSON.stringify({ seq: M, changes: Array.from({ length: M }, (_, i) => ({ seq: i + 1, status: "active", policy: operator(N + i) })) });
const tBase = performance.now();
const parsed = JSON.parse(payload) as { changes: Array<{ policy: Policy }> };
writeFileAtomic(join(work, "baseline.json"), parsed.changes.map((c) => JSON.stringify(c.policy)).join(",\n"));
const baseMs = performance.now() - tBase;

await master.shutdown("bench done");
await follower.shutdown("bench done");
rmSync(work, { recursive: true, force: true });

const rows = [
  ["`blockchain get` keyed look-up, p50 (100,000 policies)", ms(quantile(lookup, 0.5)), `${ms(quantile(scan, 0.5))} (Array.filter scan)`, `${(quantile(lookup, 0.5) / quantile(scan, 0.5)).toFixed(3)}x`],
  ["`blockchain get` keyed look-up, p99", ms(quantile(lookup, 0.99)), `${ms(quantile(scan, 0.99))} (Array.filter scan)`, `${(quantile(lookup, 0.99) / quantile(scan, 0.99)).toFixed(3)}x`],
  ["first look-up (loads the 100,000-policy copy, builds the index)", ms(firstMs), "", ""],
  ["sync of 10,000 new policies (pull + apply + write copy)", ms(syncMs), `${ms(baseMs)} (JSON.parse + atomic write)`, `${(syncMs / baseMs).toFixed(2)}x`],
  ["master: 10,000 ledger inserts in one transaction (SQLite)", ms(insertMs), "", ""],
];
report(
  "metadata (bench/metadata.ts)",
  `Command: \`bun bench/metadata.ts --record\`. ${LOOKUPS} look-ups of random names through \`node.execute\` (the whole command path); baseline scans of the same array in the same run.`,
  ["figure", "anylog", "baseline", "ratio"],
  rows,
);
process.exit(0);
