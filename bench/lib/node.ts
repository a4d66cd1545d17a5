/**
 * Shared by the benchmarks: the compiled executable (ANYLOG_BIN, else built by make), a node
 * started from an operator script, its commands over REST, and the machine's load.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { freePort } from "../../test/support/node-process.ts";

const root = join(import.meta.dir, "..", "..");
const arch = process.arch === "arm64" ? "arm64" : "x64";

/** The executable under test: ANYLOG_BIN, else this machine's dist/ executable (built when missing). */
export function anylogBin(): string {
  const bin = process.env.ANYLOG_BIN ?? join(root, "dist", `anylog-linux-${arch}`);
  if (!existsSync(bin) && spawnSync("make", ["-C", root, `dist/anylog-linux-${arch}`], { stdio: "inherit" }).status !== 0) throw new Error("cannot build the executable");
  return bin;
}

/** `anylog version` of the executable under test. */
export function anylogVersion(bin: string): string {
  return spawnSync(bin, ["version"], { encoding: "utf8" }).stdout.trim();
}

export interface BenchNode {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** Starts the executable with `lines` as its script, then its REST server (last, so /health answers once the rest is up). */
export async function startNode(bin: string, home: string, lines: string[]): Promise<BenchNode> {
  const rest = await freePort();
  const script = join(home, "node.al");
  writeFileSync(script, [...lines, `run rest server 127.0.0.1 ${rest} where bind = true and timeout = 120`].join("\n"));
  const proc = Bun.spawn([bin, "start", "--script", script], { env: { ...process.env, ANYLOG_HOME: home, ANYLOG_LOG_LEVEL: "warn" }, stdout: "ignore", stderr: "inherit" });
  const url = `http://127.0.0.1:${rest}`;
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${url}/health`)).ok) break;
    } catch {
      if (i > 400 || proc.exitCode !== null) throw new Error("node did not start");
      await Bun.sleep(25);
    }
  }
  return {
    url,
    pid: proc.pid,
    stop: async () => {
      proc.kill("SIGTERM");
      await proc.exited;
    },
  };
}

/** A command over REST (POST when it changes the node's state); its answer's text. */
export async function nodeCommand(url: string, cmd: string, method: "GET" | "POST" = "GET"): Promise<string> {
  const r = await fetch(url, { method, headers: { command: cmd } });
  const text = await r.text();
  if (!r.ok) throw new Error(`${cmd}: ${text}`);
  return text;
}

/** Rows in a table, by `sql <dbms> format = json and stat = false "select count(*) ..."` (0 while the table does not exist). */
export async function rowCount(url: string, dbms: string, table: string): Promise<number> {
  const r = await fetch(url, { headers: { command: `sql ${dbms} format = json and stat = false "select count(*) as n from ${table}"` } });
  const text = await r.text();
  if (!r.ok) {
    if (text.includes("no such table") || text.includes("does not exist")) return 0;
    throw new Error(`count of ${table}: ${text}`);
  }
  return Number((JSON.parse(text) as { Query: Array<{ n: number }> }).Query[0]?.n ?? 0);
}

/** The 1, 5 and 15 minute load averages, as `uptime` prints them. */
export function loadAverage(): string {
  return loadavg()
    .map((l) => l.toFixed(2))
    .join(", ");
}

/** The operating system, from /etc/os-release (e.g. "Debian GNU/Linux 12 (bookworm)"). */
export function osName(): string {
  try {
    return /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(readFileSync("/etc/os-release", "utf8"))?.[1] ?? "unknown OS";
  } catch {
    return "unknown OS";
  }
}

/** The p-th percentile (nearest rank) of sorted numbers. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** The median of numbers. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)]!;
}
