/**
 * Node monitoring (issue #14 part B) against real `anylog start` processes on loopback:
 *  - each monitoring command's figures against what the test reads itself from /proc, `df`
 *    and `uname` (within tolerance where the figure moves between the two reads), and their
 *    errors: a missing path, no path, a bad format, an unknown function or attribute;
 *  - `/metrics` parsed by a strict Prometheus text-format parser (every family with HELP and
 *    TYPE), node_exporter's names carrying the machine's figures;
 *  - a query node that three operators report to on a schedule (`run client (...) monitor
 *    operators where info = !node_insight`): each one's figures in `get monitored operators`,
 *    and the one that was killed marked as not reporting within two intervals;
 *  - the status page, loaded and screenshotted by headless Chromium: the DOM shows the
 *    operator's processes and its table with its row count, and the query node's page the
 *    monitored operators; a command holding markup shows as text.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { type AnylogNode, MINIMAL_SCRIPT, killAll, startNode } from "./support/node-process.ts";
import { OperatorNode, command, put, waitFor } from "./support/operator.ts";
import { parsePrometheus, valueOf } from "./support/prometheus.ts";
import { stopScriptNodes } from "./support/script-node.ts";

setDefaultTimeout(120_000);

/** Seconds between the operators' reports to the query node. */
const INTERVAL = 2;
const ROWS = [3, 5, 7];

const work = mkdtempSync(join(tmpdir(), "anylog-monitor-"));
let query: AnylogNode;
let ops: OperatorNode[] = [];

beforeAll(async () => {
  query = await startNode({ script: MINIMAL_SCRIPT, set: { node_name: "qnode" } });
  const schedule = [
    "run scheduler 1",
    `schedule name = node_insight and time = ${INTERVAL} seconds task node_insight = get node insight where format = json`,
    `schedule name = monitor_node and time = ${INTERVAL} seconds task run client (127.0.0.1:${query.tcpPort}) monitor operators where info = !node_insight`,
  ];
  ops = await Promise.all([0, 1, 2].map((i) => OperatorNode.start({ engine: "sqlite", dir: join(work, `op${i}`), dbms: "mon", before: schedule })));
  for (const [i, op] of ops.entries()) {
    const rows = Array.from({ length: ROWS[i]! }, (_, k) => JSON.stringify({ ts: `2026-12-01 10:00:0${k}`, device: `d${k}`, value: k + 0.5 }));
    const r = await put(op.url, "mon", "readings", rows.join("\n"));
    expect(r.status).toBe(200);
  }
});

afterAll(async () => {
  await stopScriptNodes();
  await killAll();
  rmSync(work, { recursive: true, force: true });
});

/** A read command on the query node; the reply must be 200. */
async function get(cmd: string, node: { url: string } = query): Promise<{ text: string; json: unknown }> {
  const r = await command(node.url, cmd);
  if (r.status !== 200) throw new Error(`${cmd}: ${r.status} ${r.text}`);
  return r;
}

const json = async <T>(cmd: string, node: { url: string } = query): Promise<T> => (await get(cmd, node)).json as T;

/** /proc/meminfo in bytes. */
function meminfo(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of readFileSync("/proc/meminfo", "utf8").split("\n")) {
    const m = /^(\S+):\s+(\d+) kB$/.exec(l);
    if (m) out[m[1]!] = Number(m[2]) * 1024;
  }
  return out;
}

/** The `cpu` lines of /proc/stat, in seconds (USER_HZ 100). */
function procStat(): Array<{ name: string; v: number[] }> {
  return readFileSync("/proc/stat", "utf8")
    .split("\n")
    .filter((l) => /^cpu\d*\s/.test(l))
    .map((l) => {
      const [name, ...v] = l.trim().split(/\s+/);
      return { name: name!, v: v.map((x) => Number(x) / 100) };
    });
}

/** Busy percent between two /proc/stat reads of the `cpu` line, as psutil counts it. */
function busy(a: number[], b: number[]): number {
  const all = (x: number[]) => x.slice(0, 8).reduce((s, y) => s + y, 0);
  const idle = (x: number[]) => x[3]! + x[4]!;
  const d = all(b) - all(a);
  return d > 0 ? ((d - (idle(b) - idle(a))) / d) * 100 : 0;
}

function netTotal(field: "bytes_recv" | "packets_recv"): number {
  let sum = 0;
  for (const l of readFileSync("/proc/net/dev", "utf8").split("\n").slice(2)) {
    const m = /^\s*[^:\s]+:\s*(.*)$/.exec(l);
    if (m) sum += Number(m[1]!.trim().split(/\s+/)[field === "bytes_recv" ? 0 : 1]);
  }
  return sum;
}

/** `df -B1` of a path: size, used, avail in bytes. */
function df(path: string): { size: number; used: number; avail: number } {
  const out = Bun.spawnSync(["df", "-B1", "--output=size,used,avail", path]).stdout.toString().trim().split("\n")[1]!;
  const [size, used, avail] = out.trim().split(/\s+/).map(Number);
  return { size: size!, used: used!, avail: avail! };
}

const uname = (flag: string) => Bun.spawnSync(["uname", flag]).stdout.toString().trim();

describe("monitoring commands read the operating system", () => {
  test("get memory info: the total is MemTotal, available and free within 2% of the total of what /proc/meminfo says", async () => {
    const m = await json<Record<string, number>>("get memory info where format = json");
    const proc = meminfo();
    const tolerance = proc.MemTotal! * 0.02;
    expect(m.total).toBe(proc.MemTotal!);
    expect(Math.abs(m.available! - proc.MemAvailable!)).toBeLessThan(tolerance);
    expect(Math.abs(m.free! - proc.MemFree!)).toBeLessThan(tolerance);
    expect(Math.abs(m.percent! - ((proc.MemTotal! - proc.MemAvailable!) / proc.MemTotal!) * 100)).toBeLessThan(2);
    const text = (await get("get memory info")).text;
    expect(text).toContain(`${Math.round(proc.MemTotal! / 1024 / 1024).toLocaleString("en-US")} MB`);
  });

  test("get disk usage / free / used / total / percentage answer what df says of the same path", async () => {
    const path = query.home;
    const usage = await json<{ path: string; total: number; used: number; free: number }>(`get disk usage ${path} where format = json`);
    const d = df(path);
    const tolerance = d.size * 0.005; // other writers on the same disk, between the two reads
    expect(usage.path).toBe(path);
    expect(usage.total).toBe(d.size);
    expect(Math.abs(usage.used - d.used)).toBeLessThan(tolerance);
    expect(Math.abs(usage.free - d.avail)).toBeLessThan(tolerance);
    expect(Number((await get(`get disk total ${path}`)).text)).toBe(d.size);
    expect(Math.abs(Number((await get(`get disk free ${path}`)).text) - d.avail)).toBeLessThan(tolerance);
    expect(Math.abs(Number((await get(`get disk used ${path}`)).text) - d.used)).toBeLessThan(tolerance);
    // AnyLog's percentage is the free part, with two decimals
    const pct = (await get(`get disk percentage ${path}`)).text;
    expect(pct).toMatch(/^\d+\.\d\d$/);
    expect(Math.abs(Number(pct) - (d.avail / d.size) * 100)).toBeLessThan(0.5);
    expect(await json(`get disk total ${path} where format = json`)).toEqual({ total: d.size });
    // the node's home by its dictionary name
    expect((await json<{ total: number }>("get disk usage !anylog_path where format = json")).total).toBe(d.size);
  });

  test("get cpu usage: one figure per CPU of /proc/stat, each a percent, and their average", async () => {
    const cores = procStat().filter((c) => c.name !== "cpu").length;
    const usage = await json<Record<string, number>>("get cpu usage where format = json");
    expect(Object.keys(usage)).toEqual([...Array.from({ length: cores }, (_, i) => `Core ${i + 1}`), "Average"]);
    for (const v of Object.values(usage)) {
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThanOrEqual(100);
    }
    const mean = Object.entries(usage).filter(([k]) => k !== "Average").reduce((s, [, v]) => s + v, 0) / cores;
    expect(Math.abs(usage.Average! - mean)).toBeLessThan(0.01);
    expect((await get("get cpu usage")).text).toContain("Average");
  });

  test("get node info cpu_times lies between two reads of /proc/stat around it; cpu_percent matches /proc/stat over the same window", async () => {
    const before = procStat()[0]!.v;
    const times = await json<Record<string, number>>("get node info cpu_times where format = json");
    const after = procStat()[0]!.v;
    ["user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"].forEach((mode, i) => {
      expect(times[mode]!).toBeGreaterThanOrEqual(before[i]! - 0.001);
      expect(times[mode]!).toBeLessThanOrEqual(after[i]! + 0.001);
    });
    // the node measures since its previous sample: take one, then compare the next over the same 1.5 s
    await get("get node info cpu_percent");
    const start = procStat()[0]!.v;
    await Bun.sleep(1500);
    const percent = Number((await get("get node info cpu_percent")).text);
    const end = procStat()[0]!.v;
    expect(percent).toBeGreaterThanOrEqual(0);
    expect(percent).toBeLessThanOrEqual(100);
    expect(Math.abs(percent - busy(start, end))).toBeLessThan(15);
  });

  test("get node info net_io_counters, getloadavg, swap_memory and disk_io_counters: /proc's figures", async () => {
    const before = netTotal("bytes_recv");
    const recv = Number((await get("get node info net_io_counters bytes_recv")).text);
    const after = netTotal("bytes_recv");
    expect(recv).toBeGreaterThanOrEqual(before);
    expect(recv).toBeLessThanOrEqual(after);
    const net = await json<Record<string, number>>("get node info net_io_counters where format = json");
    expect(Object.keys(net).sort()).toEqual(["bytes_recv", "bytes_sent", "dropin", "dropout", "errin", "errout", "packets_recv", "packets_sent"]);
    const load = await json<number[]>("get node info getloadavg where format = json");
    const procLoad = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).map(Number);
    load.forEach((l, i) => expect(Math.abs(l - procLoad[i]!)).toBeLessThan(1));
    const swap = await json<Record<string, number>>("get node info swap_memory where format = json");
    expect(swap.total).toBe(meminfo().SwapTotal!);
    const disk = await json<Record<string, number>>("get node info disk_io_counters where format = json");
    expect(disk.read_count).toBeGreaterThan(0);
    // the text form is psutil's named tuple
    expect((await get("get node info cpu_times")).text).toMatch(/^cpu_times\(user=[\d.]+, nice=/);
    const all = await json<Record<string, unknown>>("get node info where format = json");
    expect(Object.keys(all)).toEqual(["cpu_percent", "cpu_times", "cpu_times_percent", "getloadavg", "swap_memory", "virtual_memory", "disk_io_counters", "net_io_counters"]);
  });

  test("get platform info is what uname says; get cpu info counts /proc/cpuinfo's processors", async () => {
    const p = await json<Record<string, string>>("get platform info where format = json");
    expect(p.System).toBe(uname("-s"));
    expect(p.Release).toBe(uname("-r"));
    expect(p.Machine).toBe(uname("-m"));
    expect(p.Node).toBe(hostname());
    const cpu = await json<Record<string, number>>("get cpu info where format = json");
    expect(cpu["Logical Cores"]).toBe((readFileSync("/proc/cpuinfo", "utf8").match(/^processor\s*:/gm) ?? []).length);
    expect((await get("get platform info")).text).toContain(uname("-r"));
  });

  test("get connections names the TCP and REST addresses; no broker is Not declared", async () => {
    const c = await json<Record<string, { external: string; local: string; bind: string }>>("get connections where format = json");
    expect(c.TCP).toEqual({ external: `127.0.0.1:${query.tcpPort}`, local: `127.0.0.1:${query.tcpPort}`, bind: `127.0.0.1:${query.tcpPort}` });
    expect(c.REST!.external).toBe(`127.0.0.1:${query.restPort}`);
    expect(c.Messaging).toEqual({ external: "Not declared", local: "Not declared", bind: "Not declared" });
    expect((await get("get connections")).text).toMatch(/TCP\s*\|127\.0\.0\.1:\d+/);
  });

  test("get rest calls counts each caller's requests and errors, with the last error's status", async () => {
    const ua = { "User-Agent": "monitor-test/1.0" };
    for (let i = 0; i < 3; i++) expect((await fetch(`${query.url}/`, { headers: { ...ua, command: "get status" } })).status).toBe(200);
    expect((await fetch(`${query.url}/`, { headers: { ...ua, command: "get nonsense here" } })).status).toBe(400);
    const calls = await json<Array<Record<string, unknown>>>("get rest calls where format = json");
    const mine = calls.find((c) => c.Caller === "monitor-test/1.0" && c.Call === "GET");
    expect(mine).toMatchObject({ Processed: 4, Errors: 1, "Last Error": 400, "Last Caller": "127.0.0.1" });
    expect((await get("get rest calls")).text).toContain("monitor-test/1.0");
  });

  test("errors: a missing path, no path, a bad format, an unknown function, attribute, option or topic", async () => {
    const expectError = async (cmd: string, status: number, says: RegExp) => {
      const r = await command(query.url, cmd, cmd.startsWith("monitor") || cmd.startsWith("reset"));
      expect(r.status).toBe(status);
      expect((r.json as { error: string }).error).toMatch(says);
    };
    await expectError("get disk usage /no/such/dir", 404, /no such path '\/no\/such\/dir'/);
    await expectError("get disk percentage /no/such/dir where format = json", 404, /no such path/);
    await expectError("get disk usage", 400, /path/);
    await expectError("get cpu usage where format = xml", 400, /format = xml is not json or table/);
    await expectError("get node info bogus", 400, /'bogus' is not one of cpu_percent, .*net_io_counters/);
    await expectError("get node info net_io_counters nope", 400, /no attribute 'nope'.*bytes_recv/);
    await expectError("get memory info where colour = red", 400, /colour/);
    await expectError("get monitored nosuch", 404, /topic 'nosuch' is not monitored/);
    await expectError("monitor operators where info = [1, 2]", 400, /JSON object/);
    await expectError("monitor operators where ip = 10.0.0.1", 400, /info/);
    await expectError("reset monitored nosuch", 404, /not monitored/);
  });
});

describe("/metrics", () => {
  test("parses strictly, every family with HELP and TYPE; node_exporter's names carry /proc's and df's figures", async () => {
    const before = procStat();
    const text = await (await fetch(`${query.url}/metrics`)).text();
    const after = procStat();
    const m = parsePrometheus(text);
    for (const f of m.values()) {
      expect(f.help.length).toBeGreaterThan(0);
      expect(["counter", "gauge"]).toContain(f.type);
      if (f.type === "counter") expect(f.name.endsWith("_total")).toBe(true);
    }
    for (const name of [
      "node_cpu_seconds_total", "node_memory_MemTotal_bytes", "node_memory_MemAvailable_bytes", "node_load1", "node_filesystem_size_bytes",
      "node_filesystem_avail_bytes", "node_network_receive_bytes_total", "node_boot_time_seconds", "process_cpu_seconds_total",
      "process_resident_memory_bytes", "anylog_rows_ingested_total", "anylog_queries_total", "anylog_errors_total", "anylog_process_up", "anylog_process_state",
    ]) expect(m.has(name)).toBe(true);
    expect(valueOf(m, "node_memory_MemTotal_bytes")).toBe(meminfo().MemTotal!);
    const user0 = valueOf(m, "node_cpu_seconds_total", { cpu: "0", mode: "user" });
    expect(user0).toBeGreaterThanOrEqual(before[1]!.v[0]! - 0.001);
    expect(user0).toBeLessThanOrEqual(after[1]!.v[0]! + 0.001);
    const d = df(query.home);
    expect(valueOf(m, "node_filesystem_size_bytes")).toBe(d.size);
    expect(Math.abs(valueOf(m, "node_filesystem_avail_bytes") - d.avail)).toBeLessThan(d.size * 0.005);
    const rss = Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${query.pid}/status`, "utf8"))![1]) * 1024;
    expect(Math.abs(valueOf(m, "process_resident_memory_bytes") - rss) / rss).toBeLessThan(0.3);
    expect(valueOf(m, "anylog_process_state", { process: "TCP", state: "Running" })).toBe(1);
    expect(valueOf(m, "anylog_process_state", { process: "TCP", state: "Stopped" })).toBe(0);
    expect(valueOf(m, "anylog_node_info", { node: "qnode" })).toBe(1);
  });

  test("an operator's rows ingested, and a query node's monitored operators, are families of their own", async () => {
    const op = parsePrometheus(await (await fetch(`${ops[1]!.url}/metrics`)).text());
    expect(valueOf(op, "anylog_rows_ingested_total")).toBe(ROWS[1]!);
    expect(valueOf(op, "anylog_process_up", { process: "Operator" })).toBe(1);
    const q = await waitFor("the query node's /metrics shows the three operators", async () => {
      const m = parsePrometheus(await (await fetch(`${query.url}/metrics`)).text());
      return m.get("anylog_monitored_up")?.samples.length === 3 ? m : undefined;
    });
    for (const s of q.get("anylog_monitored_up")!.samples) expect(s.labels.topic).toBe("operators");
    const rows = q.get("anylog_monitored_value")!.samples.filter((s) => s.labels.key === "Rows ingested").map((s) => s.value).sort();
    expect(rows).toEqual([...ROWS].sort());
  });
});

interface Monitored {
  [key: string]: unknown;
  Status: string;
  "Update time": string;
  "Interval seconds": number;
  Reports: number;
}

describe("a query node monitoring three operators", () => {
  test("each operator's figures show in get monitored operators; a killed one is not reporting within two intervals", async () => {
    const all = await waitFor(
      "the three operators reported twice with their rows",
      async () => {
        const r = await command(query.url, "get monitored operators");
        if (r.status !== 200) return undefined;
        const m = r.json as Record<string, Monitored>;
        const entries = Object.values(m);
        return entries.length === 3 && entries.every((e) => e.Reports >= 2 && e["Rows ingested"] === ROWS[Number(String(e["Node name"]).slice(2))]) ? m : undefined;
      },
      60_000,
    );
    expect(await json<string[]>("get monitored")).toEqual(["operators"]);
    // each is known by the IP and name it declares (EdgeLake's `ip.name`)
    const idOf = (i: number) => Object.keys(all).find((k) => all[k]!["Node name"] === `op${i}`)!;
    for (const [i, op] of ops.entries()) {
      expect(idOf(i)).toMatch(new RegExp(`^[\\d.]+\\.op${i}$`));
      const e = all[idOf(i)]!;
      expect(e.Status).toBe("Reporting");
      expect(e["node type"]).toBe("operator");
      expect(e["CPU Percent"]).toBeGreaterThanOrEqual(0);
      const d = df(op.home);
      expect(Math.abs((e["Free Space Percent"] as number) - (d.avail / d.size) * 100)).toBeLessThan(0.5);
      expect(e["Processes running"]).toContain("Operator");
      expect(Math.abs(e["Interval seconds"] - INTERVAL)).toBeLessThan(0.6);
    }
    expect((await get("get monitored operators where format = table")).text).toMatch(/\.op0\s*\|Reporting/);

    // op2 dies; it is marked within two intervals of its death, the others go on reporting
    await ops[2]!.node.kill();
    const killedAt = Date.now();
    await waitFor(
      "op2 is marked not reporting",
      async () => (await json<Record<string, Monitored>>("get monitored operators"))[idOf(2)]!.Status === "Not reporting",
      30_000,
      100,
    );
    const took = (Date.now() - killedAt) / 1000;
    expect(took).toBeLessThanOrEqual(2 * INTERVAL + 1); // a second for the scheduler's tick and the polling
    const now = await json<Record<string, Monitored>>("get monitored operators");
    expect(now[idOf(0)]!.Status).toBe("Reporting");
    expect(now[idOf(1)]!.Status).toBe("Reporting");
    const metrics = parsePrometheus(await (await fetch(`${query.url}/metrics`)).text());
    expect(valueOf(metrics, "anylog_monitored_up", { node: idOf(2) })).toBe(0);
    expect(valueOf(metrics, "anylog_monitored_up", { node: idOf(0) })).toBe(1);
  });
});

/** Debian's chromium, headless: the page's DOM as the browser built it, and a screenshot. */
async function chromium(args: string[]): Promise<string> {
  const bin = ["chromium", "chromium-browser"].find((b) => Bun.spawnSync(["which", b]).exitCode === 0);
  if (!bin) throw new Error("chromium is not installed: apt-get install chromium (the Makefile's DEBS has it)");
  const profile = mkdtempSync(join(tmpdir(), "anylog-chromium-"));
  try {
    const proc = Bun.spawn([bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", `--user-data-dir=${profile}`, ...args], { stdout: "pipe", stderr: "pipe" });
    const timer = setTimeout(() => proc.kill("SIGKILL"), 60_000);
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    clearTimeout(timer);
    if (code !== 0) throw new Error(`chromium exited ${code}: ${err}`);
    return out;
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}

/** The text of an element of a dumped DOM, by id (tags removed, entities of the escape kept as characters). */
function elementText(dom: string, id: string): string {
  const start = dom.indexOf(`id="${id}"`);
  if (start < 0) throw new Error(`no element #${id} in the page`);
  const tag = dom.lastIndexOf("<", start);
  const name = /^<(\w+)/.exec(dom.slice(tag))![1]!;
  const end = dom.indexOf(`</${name}>`, start);
  return dom
    .slice(tag, end)
    .replace(/<\/(td|th)>/g, " | ")
    .replace(/<\/tr>/g, "\n")
    .replace(/<[^>]+>/g, "")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, "&");
}

describe("the status page in a real browser", () => {
  test("an operator's page shows its processes, its table with its rows and its last errors; markup in a command stays text", async () => {
    const op = ops[0]!;
    // an error whose command holds markup: shown as text, never run
    const bad = await command(op.url, 'get <script>document.title="pwned"</script> now');
    expect(bad.status).toBe(400);
    const dom = await chromium(["--dump-dom", `${op.url}/`]);
    expect(elementText(dom, "node-name").trim()).toBe("op0");
    const processes = elementText(dom, "processes");
    expect(processes).toMatch(/TCP \| Running \|/);
    expect(processes).toMatch(/REST \| Running \|/);
    expect(processes).toMatch(/Operator \| Running \|/);
    expect(processes).toMatch(/Scheduler \| Running \|/);
    expect(elementText(dom, "tables")).toMatch(new RegExp(`mon \\| readings \\| ${ROWS[0]} \\|`));
    expect(elementText(dom, "errors")).toContain('get <script>document.title="pwned"</script> now');
    expect(dom).not.toContain("<script>");
    expect(dom).toContain("<title>op0 · AnyLog node</title>");

    const shot = join(work, "op0.png");
    await chromium([`--screenshot=${shot}`, "--window-size=1280,900", `${op.url}/`]);
    expect(existsSync(shot)).toBe(true);
    expect(readFileSync(shot).subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect(statSync(shot).size).toBeGreaterThan(10_000);
  });

  test("the query node's page lists the monitored operators with their state", async () => {
    const dom = await chromium(["--dump-dom", `${query.url}/`]);
    const text = elementText(dom, "monitored-operators");
    for (const i of [0, 1]) expect(text).toMatch(new RegExp(`\\.op${i} \\| Reporting \\|`));
    expect(text).toMatch(/\.op2 \| Not reporting \|/);
    expect(elementText(dom, "tables")).toContain("No database is connected.");
  });

  test("the page has its security headers; a browser request with a command header still runs the command, and a non-browser GET / is the data-source check", async () => {
    const page = await fetch(`${query.url}/`, { headers: { Accept: "text/html" } });
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toContain("text/html");
    expect(page.headers.get("content-security-policy")).toContain("default-src 'none'");
    await page.text();
    const cmd = await fetch(`${query.url}/`, { headers: { Accept: "text/html", command: "get status where format = json" } });
    expect(((await cmd.json()) as { status: string }).status).toBe("running");
    const probe = await fetch(`${query.url}/`, { headers: { Accept: "application/json" } });
    expect(((await probe.json()) as { status: string }).status).toBe("OK");
  });
});
