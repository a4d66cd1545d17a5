/**
 * Start-up benchmark of the compiled executable: time from exec of `anylog start` (fresh
 * ANYLOG_HOME, free ports) to the first successful `GET /health`, and the idle RSS ~1 s later.
 * Two baselines, compiled by the same bun for the same target and measured the same way in the
 * same run: a bare `Bun.serve` hello-world, and the same server with hono answering /health and
 * an open bun:sqlite database (what any node of this design loads). The goals (issue #9): idle
 * RSS <= 55 MiB, start to first /health <= 100 ms. `--record` writes the figures to
 * bench/RESULTS.md.
 *
 *   bun bench/startup.ts [--record]     (make bench builds the executable first)
 */
import { spawnSync } from "node:child_process";
import { cpus, totalmem } from "node:os";
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
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

// the baselines: the smallest thing bun can compile that answers /health, and the same with
// hono and bun:sqlite loaded and used
const work = mkdtempSync(join(tmpdir(), "anylog-bench-"));
symlinkSync(join(root, "node_modules"), join(work, "node_modules")); // hono, for the second baseline
const baselines = {
  bare: `Bun.serve({ hostname: "127.0.0.1", port: Number(process.argv[2]), fetch: () => new Response("hello") });\n`,
  hono: [
    `import { Hono } from "hono";`,
    `import { Database } from "bun:sqlite";`,
    `const db = new Database(":memory:");`,
    `db.query("select 1").get();`,
    `const app = new Hono();`,
    `app.get("/health", (c) => c.text("ok"));`,
    `Bun.serve({ hostname: "127.0.0.1", port: Number(process.argv[2]), fetch: app.fetch });`,
    ``,
  ].join("\n"),
};
const compiledBaseline = (name: keyof typeof baselines): string => {
  const source = join(work, `${name}.ts`);
  const out = join(work, name);
  writeFileSync(source, baselines[name]);
  const r = spawnSync(process.execPath, ["build", "--compile", `--target=bun-linux-${arch}`, source, "--outfile", out], { stdio: ["ignore", "ignore", "inherit"] });
  if (r.status !== 0) throw new Error(`cannot compile the ${name} baseline`);
  return out;
};
const bare = compiledBaseline("bare");
const hono = compiledBaseline("hono");

interface Sample {
  readyMs: number;
  rssKiB: number;
}

let retries = 5;

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
  if (Number.isNaN(readyMs)) {
    // anylog exits 1 when a port is taken: another process took one of the free ports first
    if (child.exitCode === 1 && command[0] === anylog && (retries -= 1) > 0) {
      rmSync(home, { recursive: true, force: true });
      return measure(argv);
    }
    throw new Error(`${command.join(" ")} did not answer /health (exit ${child.exitCode})`);
  }
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
const bareArgv = (rest: number) => [bare, String(rest)];
const honoArgv = (rest: number) => [hono, String(rest)];

// one discarded warm-up each (page cache), then alternate so drift hits all alike
for (const argv of [anylogArgv, bareArgv, honoArgv]) await measure(argv);
const a: Sample[] = [];
const b: Sample[] = [];
const h: Sample[] = [];
for (let i = 0; i < RUNS; i++) {
  a.push(await measure(anylogArgv));
  b.push(await measure(bareArgv));
  h.push(await measure(honoArgv));
}
rmSync(work, { recursive: true, force: true });

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};
const ready = (xs: Sample[], p: number) => pct(xs.map((s) => s.readyMs), p);
const rss = (xs: Sample[]) => pct(xs.map((s) => s.rssKiB), 50) / 1024;
const rows: [string, number, number, number, string, number | undefined][] = [
  ["start to first /health, median", ready(a, 50), ready(b, 50), ready(h, 50), "ms", 100],
  ["start to first /health, p90", ready(a, 90), ready(b, 90), ready(h, 90), "ms", undefined],
  ["idle RSS after 1 s, median", rss(a), rss(b), rss(h), "MiB", 55],
];
const table = [
  "| figure | anylog (default node) | baseline: bare Bun.serve | baseline: Bun.serve + hono + bun:sqlite | anylog / hono baseline | goal |",
  "| --- | ---: | ---: | ---: | ---: | --- |",
  ...rows.map(
    ([name, x, y, z, unit, goal]) =>
      `| ${name} | ${x.toFixed(1)} ${unit} | ${y.toFixed(1)} ${unit} | ${z.toFixed(1)} ${unit} | ${(x / z).toFixed(2)}x | ${goal === undefined ? "" : `<= ${goal} ${unit}: ${x <= goal ? "met" : "not met"}`} |`,
  ),
].join("\n");

const version = spawnSync(anylog, ["version"], { encoding: "utf8" }).stdout.trim();
console.log(`startup: ${RUNS} runs each, ${version}, bun ${Bun.version}\n\n${table}\n`);

if (process.argv.includes("--record")) {
  const cpu = cpus()[0]?.model ?? "unknown CPU";
  const section = `## startup (bench/startup.ts)

${new Date().toISOString().slice(0, 10)}, \`nproc\` ${spawnSync("nproc", { encoding: "utf8" }).stdout.trim()}, ${cpu}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM;
\`${version}\`, bun ${Bun.version}. Command: \`make build && bun bench/startup.ts --record\` (\`make bench\` prints the same table without recording).
${RUNS} runs each after one discarded warm-up, alternating anylog and the baselines, each anylog run with a fresh
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
