/**
 * The Scheduler on an in-process node: tasks run on 1-second timers, failures are counted
 * and logged without stopping it, names replace, `exit scheduler` stops, a slow task is
 * skipped rather than doubled, and seed 001's `schedule` line runs (its task failing, and
 * reported, while its database is not connected). Timing checks are bounds only: "at least N
 * runs within M s".
 */
import "../../features.ts";
import { afterAll, afterEach, describe, expect, setDefaultTimeout, spyOn, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Node } from "../../node/node.ts";
import { ok } from "../../util/result.ts";
import { parseStart, scheduler } from "./index.ts";

setDefaultTimeout(30_000);

const home = mkdtempSync(join(tmpdir(), "anylog-scheduler-"));
const nodes: Node[] = [];
afterEach(async () => {
  for (const n of nodes.splice(0)) await n.shutdown("test done");
});
afterAll(() => rmSync(home, { recursive: true, force: true }));

function node(): Node {
  const n = new Node({ env: { ANYLOG_HOME: join(home, `n${nodes.length}-${Date.now()}`) }, set: { node_name: "sched" } });
  nodes.push(n);
  return n;
}

/** Runs a command that must succeed; returns its reply. */
async function run(n: Node, text: string): Promise<unknown> {
  const r = await n.execute(text);
  if (!r.ok) throw new Error(`'${text}' failed: ${r.error.message}`);
  return r.value;
}

type TaskInfo = { name: string; command: string; runs: number; firings: number; last_fired?: string; failures: number; skipped: number; last_error?: string; last_result?: string; next_run?: string; mode: string };

function task(n: Node, name: string, id = 1): TaskInfo | undefined {
  const info = scheduler(n).info(id) as { schedulers: Array<{ tasks: TaskInfo[] }> };
  return info.schedulers[0]?.tasks.find((t) => t.name === name);
}

/** Waits until `cond` holds, at most `ms`; the caller's expect then says what did not happen. */
async function until(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await Bun.sleep(50);
}

describe("scheduler", () => {
  test("run scheduler 1 shows in get processes as AnyLog does", async () => {
    const n = node();
    const before = (await run(n, "get processes where format = json")) as Record<string, { Status: string }>;
    expect(before.Scheduler?.Status).toBe("Not declared");
    await run(n, "run scheduler 1");
    expect(await run(n, "get processes")).toMatch(/Scheduler\s+\|Running\s+\|Schedulers IDs in use: \[0 \(system\)\] \[1 \(user\)\]/);
    const again = await n.execute("run scheduler 1");
    expect(again.ok ? "" : again.error.code).toBe("conflict");
    await run(n, "run scheduler 2"); // a second ID adds a scheduler
    expect(scheduler(n).details()).toBe("Schedulers IDs in use: [0 (system)] [1 (user)] [2]");
    const tooHigh = await n.execute("run scheduler 11");
    expect(tooHigh.ok).toBe(false);
  });

  test("schedule without a running scheduler says to run scheduler 1", async () => {
    const n = node();
    const r = await n.execute("schedule time = 1 second and name = t task echo hi");
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe("unavailable");
      expect(r.error.message).toContain("run scheduler 1");
    }
  });

  test("a task runs every second, its !values replaced at each run", async () => {
    const n = node();
    await run(n, "run scheduler 1");
    await run(n, "value = first");
    expect(await run(n, "schedule time = 1 second and name = tick task seen = !value")).toContain("Added task 1 'tick'");
    expect(task(n, "tick")?.command).toBe("seen = !value"); // kept as written
    await until(() => n.dictionary.lookup("seen") === "first", 3000);
    expect(n.dictionary.lookup("seen")).toBe("first");
    await run(n, "value = second");
    await until(() => (task(n, "tick")?.runs ?? 0) >= 3 && n.dictionary.lookup("seen") === "second", 5000);
    expect(task(n, "tick")?.runs).toBeGreaterThanOrEqual(3);
    expect(n.dictionary.lookup("seen")).toBe("second");
  });

  test("a failing task is counted and logged, and the scheduler goes on", async () => {
    const n = node();
    const lines: string[] = [];
    const spy = spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    try {
      await run(n, "run scheduler 1");
      await run(n, 'schedule time = 1 second and name = "Bad Task" task get no_such_process');
      await run(n, "schedule time = 1 second and name = good task echo fine");
      await until(() => (task(n, "Bad Task")?.failures ?? 0) >= 2 && (task(n, "good")?.runs ?? 0) >= 2, 5000);
    } finally {
      spy.mockRestore();
    }
    const bad = task(n, "Bad Task")!;
    expect(bad.failures).toBeGreaterThanOrEqual(2);
    expect(bad.last_error).toContain("no_such_process");
    expect(task(n, "good")?.runs).toBeGreaterThanOrEqual(2);
    expect(task(n, "good")?.last_result).toBe("fine");
    expect(scheduler(n).status()).toBe("Running");
    const logged = lines.filter((l) => l.includes("'Bad Task' failed"));
    expect(logged.length).toBeGreaterThanOrEqual(1);
    expect(logged[0]!.trimEnd().split("\n")).toHaveLength(1);
  });

  test("scheduling a name again replaces the task", async () => {
    const n = node();
    await run(n, "run scheduler 1");
    await run(n, "schedule time = 1 hour and name = report task echo one");
    expect(await run(n, "schedule time = 2 hours and name = REPORT task echo two")).toContain("Replaced task 1");
    const info = (await run(n, "get scheduler 1")) as { schedulers: Array<{ tasks: TaskInfo[] }> };
    const tasks = info.schedulers[0]!.tasks;
    expect(tasks).toHaveLength(1);
    expect(tasks[0]).toMatchObject({ name: "REPORT", command: "echo two", every: "2 hours" });
  });

  test("exit scheduler stops its tasks", async () => {
    const n = node();
    await run(n, "run scheduler 1");
    await run(n, "schedule time = 1 second and name = tick task echo tick");
    await until(() => (task(n, "tick")?.runs ?? 0) >= 1, 3000);
    expect(await run(n, "exit scheduler")).toBe("Scheduler stopped");
    const runs = task(n, "tick")!.runs;
    await Bun.sleep(1500);
    expect(task(n, "tick")!.runs).toBe(runs);
    expect(task(n, "tick")!.next_run).toBeUndefined();
    const table = (await run(n, "get processes where format = json")) as Record<string, { Status: string }>;
    expect(table.Scheduler?.Status).toBe("Not declared");
  });

  test("a task still running is skipped, not doubled, and stop waits for it", async () => {
    const n = node();
    let running = 0;
    let most = 0;
    let finished = 0;
    const execute = n.execute.bind(n);
    n.execute = async (text, ctx) => {
      if (text !== "echo slow") return execute(text, ctx);
      most = Math.max(most, ++running);
      await Bun.sleep(2500);
      running--;
      finished++;
      return ok("slow done");
    };
    await run(n, "run scheduler 1");
    await run(n, "schedule time = 1 second and name = slow task echo slow");
    await until(() => (task(n, "slow")?.skipped ?? 0) >= 1 && finished >= 1 && running === 1, 8000);
    expect(task(n, "slow")!.skipped).toBeGreaterThanOrEqual(1);
    expect(most).toBe(1);
    expect(running).toBe(1); // a run in flight: stop must wait for it
    await run(n, "exit scheduler");
    expect(running).toBe(0);
  });

  test("seed 001: the Drop Partitions line runs; while its database is missing the failure is reported", async () => {
    const n = node();
    await run(n, "run scheduler 1");
    for (const [k, v] of [["partition_sync", "1 day"], ["default_dbms", "test"], ["table_name", "rand_data"], ["partition_keep", "3"]]) n.dictionary.set(k!, v!);
    const line = 'schedule time=!partition_sync and name="Drop Partitions" task drop partition where dbms=!default_dbms and table =!table_name and keep=!partition_keep';
    expect(await run(n, line)).toContain("'Drop Partitions' on scheduler 1: every 1 day, first run now");
    await until(() => (task(n, "Drop Partitions")?.runs ?? 0) >= 1, 3000);
    const t = task(n, "Drop Partitions")!;
    expect(t.command).toBe("drop partition where dbms=!default_dbms and table =!table_name and keep=!partition_keep");
    expect(t.failures).toBe(1);
    expect(t.last_error).toContain("dbms 'test' is not connected");
    expect(scheduler(n).status()).toBe("Running");
    // once the database is there, the same task (its !values read again) succeeds
    await run(n, "connect dbms test where type = sqlite");
    const now = await n.execute('task run where name = "Drop Partitions"');
    expect(now.ok ? "" : now.error.message).toBe("");
    expect(task(n, "Drop Partitions")).toMatchObject({ runs: 2, failures: 1, last_error: undefined });
  });

  test("task stop / resume / run / init / remove, by name or number", async () => {
    const n = node();
    await run(n, "run scheduler 1");
    await run(n, "schedule time = 1 day and name = later and start = +1h task echo later");
    expect(task(n, "later")).toMatchObject({ runs: 0 });
    expect(Date.parse(task(n, "later")!.next_run!) - Date.now()).toBeGreaterThan(3500_000);
    expect(await run(n, 'task run where name = "later"')).toBe("later");
    expect(task(n, "later")?.runs).toBe(1);
    await run(n, "task stop where id = 1");
    expect(task(n, "later")).toMatchObject({ mode: "Stopped", next_run: undefined });
    await run(n, "task resume where scheduler = 1 and name = later");
    expect(task(n, "later")?.mode).toBe("Active");
    await run(n, "task init where name = later and start = +2d");
    expect(Date.parse(task(n, "later")!.next_run!) - Date.now()).toBeGreaterThan(47 * 3600_000);
    await run(n, "task remove where name = later");
    expect(task(n, "later")).toBeUndefined();
    const missing = await n.execute("task run where name = later");
    expect(missing.ok ? "" : missing.error.code).toBe("not_found");
  });

  test("an alert rule: its firings (runs in which its if held) and last firing are counted apart from its runs", async () => {
    const n = node();
    await run(n, "run scheduler 1");
    await run(n, "level = 50");
    await run(n, "schedule time = 1 second and name = rule task if !level > 90 then fired_at = !level");
    await until(() => (task(n, "rule")?.runs ?? 0) >= 2, 4000);
    expect(task(n, "rule")).toMatchObject({ firings: 0, last_fired: undefined });
    await run(n, "level = 95");
    await until(() => (task(n, "rule")?.firings ?? 0) >= 2, 4000);
    const fired = task(n, "rule")!;
    expect(fired.firings).toBeGreaterThanOrEqual(2);
    expect(fired.last_fired).toBeDefined();
    expect(n.dictionary.lookup("fired_at")).toBe("95");
    expect(fired.runs).toBeGreaterThan(fired.firings);
  });

  test("the tasks of one scheduler run one after another in the order they came due: a rule's second task reads what its first kept", async () => {
    const n = node();
    let running = 0;
    let most = 0;
    const execute = n.execute.bind(n);
    n.execute = async (text, ctx) => {
      most = Math.max(most, ++running);
      try {
        if (text === "echo query") {
          await Bun.sleep(300); // a query that takes a while
          n.dictionary.set("value", String(Number(n.dictionary.lookup("value") ?? "0") + 1));
          return ok(undefined);
        }
        return await execute(text, ctx);
      } finally {
        running--;
      }
    };
    await run(n, "run scheduler 1");
    await run(n, "schedule time = 1 second and name = first task echo query");
    await run(n, "schedule time = 1 second and name = second task seen = !value");
    await until(() => (task(n, "second")?.runs ?? 0) >= 2, 5000);
    expect(most).toBe(1);
    // each run of the second task saw the value the first had just kept
    expect(n.dictionary.lookup("seen")).toBe(n.dictionary.lookup("value"));
    await run(n, "run scheduler 2"); // another scheduler runs beside it
    expect(scheduler(n).isRunning(2)).toBe(true);
  });

  test("a task that does not parse is refused when scheduled", async () => {
    const n = node();
    await run(n, "run scheduler 1");
    const r = await n.execute("schedule time = 1 minute and name = typo task gett status");
    expect(r.ok ? "" : r.error.message).toContain("the task does not parse");
  });

  test("start: time forward, start of, dates", () => {
    const now = new Date("2024-05-10T13:45:30.500Z");
    const at = (s: string) => {
      const t = parseStart(s, now);
      return t === undefined ? undefined : new Date(t).toISOString();
    };
    expect(at("+2h")).toBe("2024-05-10T15:45:30.500Z");
    expect(at("+ 1d")).toBe("2024-05-11T13:45:30.500Z");
    expect(at("+30t")).toBe("2024-05-10T14:15:30.500Z");
    expect(at("+1m")).toBe("2024-06-10T13:45:30.500Z");
    expect(at("start of day")).toBe("2024-05-10T00:00:00.000Z");
    expect(at("start of month")).toBe("2024-05-01T00:00:00.000Z");
    expect(at("now()")).toBe("2024-05-10T13:45:30.500Z");
    expect(at("2024-06-01 08:00:00")).toBe("2024-06-01T08:00:00.000Z");
    expect(at("tomorrow")).toBeUndefined();
    expect(at("+2x")).toBeUndefined();
  });
});
