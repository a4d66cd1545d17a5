/**
 * Start-up benchmark of the compiled executable: time from exec of `anylog start` (fresh
 * ANYLOG_HOME, free ports) to the first successful `GET /health`, and the idle RSS ~1 s later.
 * The baseline is a bare `Bun.serve` hello-world compiled by the same bun for the same target,
 * measured the same way in the same run. `--record` writes the figures to bench/RESULTS.md.
 *
 *   bun bench/startup.ts [--record]     (make bench builds the executable first)
 */
import { spawnSync } from "node:child_process";
import { cpus, totalmem } from "node:os";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePorts } from "../test/support/node-process.ts";

const RUNS = 10;
const root = fileURLToPath(new URL("..", import.meta.url));
const arch = process.arch === "arm64" ? "arm64" : "x64";
const anylog = process.env.ANYLOG_BIN ?? join(root, "dist", `anylog-linux-${arch}`);
if (!existsSync(anylog)) {
  const made = spawnSync("make", ["-C", root, `dist/anylog-linux-${arch}`], { stdio: "inherit" });
  if (made.status !== 0) throw new Error(`cannot build ${anylog}`);
}

// the baseline: the smallest thing bun can compile that answers /health
const work = mkdtempSync(join(tmpdir(), "anylog-bench-"));
const baseline = join(work, "hello");
writeFileSync(
  join(work, "hello.ts"),
  `Bun.serve({ hostname: "127.0.0.1", port: Number(process.argv[2]), fetch: () => new Response("hello") });\n`,
);
const compiled = spawnSync(process.execPath, ["build", "--compile", `--target=bun-linux-${arch}`, join(work, "hello.ts"), "--outfile", baseline], {
  stdio: ["ignore", "ignore", "inherit"],
});
if (compiled.status !== 0) throw new Error("cannot compile the baseline");

interface Sample {
  readyMs: number;
  rssKiB: number;
}

/** One start: exec, poll /health until it answers 200, wait 1 s idle, read VmRSS, stop. */
async function measure(argv: (restPort: number, tcpPort: number) => string[]): Promise<Sample> {
  const home = mkdtempSync(join(work, "home-"));
  const [restPort, tcpPort] = (await freePorts(2)) as [number, number];
  const t0 = performance.now();
  const command = argv(restPort, tcpPort);
  const child = Bun.spawn(command, {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, ANYLOG_HOME: home },
    stdin: "ignore",
    stdout: "ignore",
    stderr: "ignore",
  });
  let readyMs = Number.NaN;
  while (performance.now() - t0 < 30_000) {
    try {
      const r = await fetch(`http://127.0.0.1:${restPort}/health`);
      await r.arrayBuffer();
      if (r.ok) {
        readyMs = performance.now() - t0;
        break;
      }
    } catch {
      // not listening yet
    }
    if (child.exitCode !== null) break;
    await Bun.sleep(1);
  }
  if (Number.isNaN(readyMs)) throw new Error(`${command.join(" ")} did not answer /health (exit ${child.exitCode})`);
  await Bun.sleep(1000);
  const status = readFileSync(`/proc/${child.pid}/status`, "utf8");
  const rssKiB = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]);
  child.kill("SIGTERM");
  const code = await child.exited;
  // anylog stops cleanly on SIGTERM (INTERFACE §1); the baseline has no handler and dies of it
  if (code !== 0 && command[0] === anylog) console.error(`warning: anylog exited ${code} on SIGTERM`);
  rmSync(home, { recursive: true, force: true });
  return { readyMs, rssKiB };
}

const anylogArgv = (rest: number, tcp: number) => [anylog, "start", "--set", `anylog_server_port=${tcp}`, "--set", `anylog_rest_port=${rest}`];
const baselineArgv = (rest: number) => [baseline, String(rest)];

// one discarded warm-up each (page cache), then alternate so drift hits both alike
await measure(anylogArgv);
await measure(baselineArgv);
const a: Sample[] = [];
const b: Sample[] = [];
for (let i = 0; i < RUNS; i++) {
  a.push(await measure(anylogArgv));
  b.push(await measure(baselineArgv));
}
rmSync(work, { recursive: true, force: true });

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};
const rows: [string, number, number, string][] = [
  ["start to first /health, median", pct(a.map((s) => s.readyMs), 50), pct(b.map((s) => s.readyMs), 50), "ms"],
  ["start to first /health, p90", pct(a.map((s) => s.readyMs), 90), pct(b.map((s) => s.readyMs), 90), "ms"],
  ["idle RSS after 1 s, median", pct(a.map((s) => s.rssKiB), 50) / 1024, pct(b.map((s) => s.rssKiB), 50) / 1024, "MiB"],
];
const table = [
  "| figure | anylog | baseline (bare Bun.serve) | ratio |",
  "| --- | ---: | ---: | ---: |",
  ...rows.map(([name, x, y, unit]) => `| ${name} | ${x.toFixed(1)} ${unit} | ${y.toFixed(1)} ${unit} | ${(x / y).toFixed(2)}x |`),
].join("\n");

const version = spawnSync(anylog, ["version"], { encoding: "utf8" }).stdout.trim();
console.log(`startup: ${RUNS} runs each, ${version}, bun ${Bun.version}\n\n${table}\n`);

if (process.argv.includes("--record")) {
  const cpu = cpus()[0]?.model ?? "unknown CPU";
  const section = `## startup (bench/startup.ts)

${new Date().toISOString().slice(0, 10)}, \`nproc\` ${spawnSync("nproc", { encoding: "utf8" }).stdout.trim()}, ${cpu}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM;
\`${version}\`, bun ${Bun.version}. Command: \`make build && bun bench/startup.ts --record\` (\`make bench\` prints the same table without recording).
${RUNS} runs each after one discarded warm-up, alternating anylog and baseline, each anylog run with a fresh
\`ANYLOG_HOME\`: time from exec of \`anylog start --set anylog_server_port=<free> --set anylog_rest_port=<free>\` to
the first \`200\` from \`GET /health\` (polled every ~1 ms), and \`VmRSS\` from \`/proc/<pid>/status\` after 1 s idle.

${table}
`;
  const file = join(root, "bench", "RESULTS.md");
  const old = existsSync(file) ? readFileSync(file, "utf8") : "# Benchmark results\n\nFigures measured on a real machine by the benchmarks in this folder; never edited by hand.\n";
  const start = old.indexOf("## startup");
  const end = start < 0 ? -1 : old.indexOf("\n## ", start + 1);
  const next = start < 0 ? `${old.trimEnd()}\n\n${section}` : `${old.slice(0, start)}${section}${end < 0 ? "" : old.slice(end)}`;
  writeFileSync(file, next);
  console.log(`recorded in ${file}`);
}
