/**
 * Memory of big PUTs: the node's peak RSS (VmHWM) while it takes one 60 MB PUT (539,000
 * rows, one object per line), and three at once, against its idle RSS, in journal mode
 * (`time = 60 seconds` + streamer) and with `write_immediate = true`. The goal (issue #9):
 * one 60 MB PUT adds at most 120 MB. Every PUT must answer 200 and every row be counted
 * afterwards, else the figure means nothing.
 *
 * `bun bench/put-memory.ts [--record]`; BENCH_MB sets the body size (60).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { anylogBin, loadAverage, nodeCommand, rowCount, startNode } from "./lib/node.ts";
import { report } from "./lib/report.ts";

const MB = Number(process.env.BENCH_MB ?? 60);
const bin = anylogBin();
const work = mkdtempSync(join(tmpdir(), "anylog-putmem-"));

/** One object per line, ~111 bytes a row, as a gateway batching readings would send. */
function body(offset: number): { text: string; rows: number } {
  const lines: string[] = [];
  let size = 0;
  for (let i = 0; size < MB * 1_000_000 * 0.9; i++) {
    const line = JSON.stringify({ id: offset + i, ts: "2026-11-21 10:00:00", device: `dev${i % 100}`, value: i * 0.5, note: "some text here to pad" });
    lines.push(line);
    size += line.length + 1;
  }
  return { text: lines.join("\n"), rows: lines.length };
}

const kib = (pid: number, field: "VmRSS" | "VmHWM") => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);

async function measure(mode: "journal" | "write_immediate", parallel: number): Promise<string[]> {
  const home = join(work, `${mode}-${parallel}`);
  mkdirSync(home, { recursive: true });
  const thresholds = mode === "journal" ? ["set buffer threshold where time = 60 seconds and volume = 10KB", "run streamer"] : ["set buffer threshold where write_immediate = true"];
  const node = await startNode(bin, home, [
    "connect dbms test where type = sqlite",
    "connect dbms almgm where type = sqlite",
    "create table tsd_info where dbms = almgm",
    ...thresholds,
    "run operator where create_table = true and update_tsd_info = true",
  ]);
  try {
    await Bun.sleep(500);
    const idle = kib(node.pid, "VmRSS");
    const bodies = Array.from({ length: parallel }, (_, k) => body(k * 10_000_000));
    const started = performance.now();
    const replies = await Promise.all(
      bodies.map((b) => fetch(node.url, { method: "PUT", headers: { type: "json", dbms: "test", table: "big", mode: "streaming" }, body: b.text }).then((r) => r.status)),
    );
    const seconds = (performance.now() - started) / 1000;
    await nodeCommand(node.url, "flush buffers", "POST");
    const peak = kib(node.pid, "VmHWM");
    const stored = await rowCount(node.url, "test", "big");
    const sent = bodies.reduce((n, b) => n + b.rows, 0);
    if (replies.some((s) => s !== 200) || stored !== sent) throw new Error(`${mode} x${parallel}: replies ${replies.join(",")}, ${stored} of ${sent} rows stored`);
    const added = (peak - idle) / 1024;
    return [mode, String(parallel), `${(idle / 1024).toFixed(0)} MiB`, `${(peak / 1024).toFixed(0)} MiB`, `${added.toFixed(0)} MiB`, `${(added / parallel).toFixed(0)} MiB`, `${seconds.toFixed(1)} s`, String(stored)];
  } finally {
    await node.stop();
  }
}

const rows: string[][] = [];
for (const mode of ["journal", "write_immediate"] as const) for (const parallel of [1, 3]) rows.push(await measure(mode, parallel));
rmSync(work, { recursive: true, force: true });
report(
  `big PUTs: the node's memory (bench/put-memory.ts)`,
  `One ${MB} MB PUT (one object per line) and three at once, into a new SQLite table, the compiled executable; RSS from /proc (VmRSS idle, VmHWM peak). Goal: one ${MB} MB PUT adds at most 120 MB. Load average before: ${loadAverage()}.`,
  ["mode", "PUTs at once", "idle RSS", "peak RSS", "added", "added per PUT", "time to answer", "rows stored"],
  rows,
);
