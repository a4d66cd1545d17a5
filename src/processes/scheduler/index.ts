/**
 * @module processes/scheduler
 * The Scheduler: runs tasks (a command, or `process <script>`) every `time`. It owns
 * `run scheduler [id]` (0 is the system scheduler, which runs whenever any scheduler does;
 * 1 and up hold users' tasks), `schedule time = ... and name = ... task <command>`, the
 * `task remove|stop|resume|run|init where name = ...` commands, and `get scheduler [id]` /
 * `exit scheduler [id]`. A task's command is kept as written and its `!values` are replaced
 * each time it runs. A failing task is logged and counted and the scheduler goes on; a task
 * whose previous run is still going (or waiting its turn) is skipped, not doubled.
 *
 * The tasks of one scheduler run one after another, in the order they came due, as AnyLog's
 * scheduler thread runs them: an alert rule written as two tasks (`x = sql ...` then
 * `if !x > 100 then email to ...`) reads the value its first task just kept. Another scheduler
 * ID (`and scheduler = 2`) runs beside it. A task is a rule when it has an `if`: each run in
 * which an `if` held is a firing, and `get scheduler` shows the last run, the last firing and
 * the last error of every task.
 */
import type { Args, CommandSpec, Reply } from "../../commands/spec.ts";
import { command } from "../../commands/spec.ts";
import { addCommands } from "../../commands/table.ts";
import { replyToText } from "../../language/interpreter.ts";
import { parseStatement } from "../../language/parser.ts";
import type { Node } from "../../node/node.ts";
import { logger } from "../../util/log.ts";
import { type Result, fail, ok } from "../../util/result.ts";
import { type NodeProcess, type ProcessStatus, registerProcess } from "../registry.ts";

const SYSTEM = 0;
const USER = 1;
/** AnyLog refuses scheduler IDs above 10. */
const MAX_ID = 10;
/** setTimeout's longest delay; longer waits are taken in steps. */
const MAX_DELAY_MS = 2 ** 31 - 1;

const log = logger("scheduler");

interface Task {
  /** Number within its scheduler, from 1 (`task ... where id = N`). */
  id: number;
  scheduler: number;
  name: string;
  /** As written: `!values` are replaced when it runs. */
  command: string;
  /**
   * Who may run it: a task scheduled over REST runs with REST's limits (paths under the
   * node's home, the environment it may read), not with the rights of a script.
   */
  runsAs: "scheduler" | "rest";
  /** Seconds between runs. */
  every: number;
  /** Epoch ms of the next run; runs stay on the grid start + k * every. */
  next: number;
  mode: "Active" | "Stopped";
  timer?: ReturnType<typeof setTimeout>;
  inFlight?: Promise<Result<Reply>>;
  /** Due and waiting for the tasks before it on its scheduler. */
  queued?: boolean;
  runs: number;
  /** Runs in which an `if` of the task held (a rule that fired). */
  firings: number;
  failures: number;
  skipped: number;
  lastRun?: Date;
  lastFired?: Date;
  lastResult?: string;
  /** The error of the last run (none once a run succeeds). */
  lastError?: string;
  /** When a run last failed (kept after runs that succeed). */
  lastFailed?: Date;
}

export class Scheduler implements NodeProcess {
  /** IDs of the schedulers that run; tasks of the others wait. */
  private readonly active = new Set<number>();
  private readonly tasks = new Map<number, Task[]>();
  private readonly inFlight = new Set<Promise<unknown>>();
  /** Per scheduler ID: the tasks that came due, run one at a time in that order. */
  private readonly queues = new Map<number, Task[]>();
  private readonly draining = new Set<number>();

  constructor(private readonly node: Node) {}

  async start(args: Args): Promise<Result<string>> {
    const id = checkId(args.int("id", USER));
    if (!id.ok) return id;
    for (const i of [SYSTEM, id.value]) this.activate(i);
    return ok(this.details());
  }

  /** `run scheduler 2` while scheduler 1 runs adds scheduler 2. */
  async runAgain(args: Args): Promise<Result<string>> {
    const id = checkId(args.int("id", USER));
    if (!id.ok) return id;
    if (this.active.has(id.value)) return fail("conflict", `scheduler ${id.value} is already running`);
    this.activate(id.value);
    return ok(this.details());
  }

  private activate(id: number): void {
    this.active.add(id);
    for (const task of this.tasks.get(id) ?? []) this.arm(task);
  }

  isRunning(id: number): boolean {
    return this.active.has(id);
  }

  /** `exit scheduler <id>`: that scheduler's tasks stop (and are kept for its next run). */
  async stopOne(id: number): Promise<void> {
    this.active.delete(id);
    this.dropQueue(id);
    const tasks = this.tasks.get(id) ?? [];
    for (const task of tasks) disarm(task);
    await Promise.all(tasks.map((t) => t.inFlight));
  }

  async stop(): Promise<void> {
    this.active.clear();
    for (const id of [...this.queues.keys()]) this.dropQueue(id);
    for (const list of this.tasks.values()) for (const task of list) disarm(task);
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  status(): ProcessStatus {
    return this.active.size > 0 ? "Running" : "Not declared";
  }

  details(): string {
    if (this.active.size === 0) return "";
    const label = (id: number) => (id === SYSTEM ? "[0 (system)]" : id === USER ? "[1 (user)]" : `[${id}]`);
    return `Schedulers IDs in use: ${[...this.active].sort((a, b) => a - b).map(label).join(" ")}`;
  }

  /** Every scheduler that runs or holds tasks (or only `only`), with its tasks. */
  info(only?: number): Record<string, unknown> {
    const holding = [...this.tasks].filter(([, list]) => list.length > 0).map(([id]) => id);
    const ids = new Set([...this.active, ...holding]);
    const schedulers = [...ids]
      .filter((id) => only === undefined || id === only)
      .sort((a, b) => a - b)
      .map((id) => ({
        id,
        kind: id === SYSTEM ? "system" : "user",
        status: this.active.has(id) ? "Running" : "Not running",
        tasks: (this.tasks.get(id) ?? []).map((t) => this.describe(t)),
      }));
    return { schedulers };
  }

  private describe(t: Task): Record<string, unknown> {
    return {
      id: t.id,
      name: t.name,
      mode: t.mode,
      command: t.command,
      every: formatSeconds(t.every),
      next_run: t.timer !== undefined ? new Date(t.next).toISOString() : undefined,
      running_now: t.inFlight !== undefined,
      runs: t.runs,
      firings: t.firings,
      failures: t.failures,
      skipped: t.skipped,
      last_run: t.lastRun?.toISOString(),
      last_fired: t.lastFired?.toISOString(),
      last_result: t.lastResult,
      last_error: t.lastError,
      last_failed: t.lastFailed?.toISOString(),
    };
  }

  /** Adds a task, or replaces the task of the same name (keeping its number). */
  add(scheduler: number, name: string | undefined, commandText: string, every: number, start: number, runsAs: Task["runsAs"] = "scheduler"): Task {
    const list = this.tasks.get(scheduler) ?? [];
    this.tasks.set(scheduler, list);
    const old = name === undefined ? undefined : this.find(scheduler, name);
    const id = old?.id ?? list.reduce((max, t) => Math.max(max, t.id), 0) + 1;
    const task: Task = {
      id,
      scheduler,
      name: name ?? `task ${id}`,
      command: commandText,
      runsAs,
      every,
      next: start,
      mode: "Active",
      runs: 0,
      firings: 0,
      failures: 0,
      skipped: 0,
    };
    if (old) this.remove(old);
    list.push(task);
    list.sort((a, b) => a.id - b.id);
    this.arm(task);
    return task;
  }

  find(scheduler: number, name: string): Task | undefined {
    const wanted = name.trim().toLowerCase();
    return this.tasks.get(scheduler)?.find((t) => t.name.toLowerCase() === wanted);
  }

  findById(scheduler: number, id: number): Task | undefined {
    return this.tasks.get(scheduler)?.find((t) => t.id === id);
  }

  /** Takes a task off its scheduler; a run in flight finishes (and `stop` still waits for it). */
  remove(task: Task): void {
    disarm(task);
    const list = this.tasks.get(task.scheduler) ?? [];
    list.splice(list.indexOf(task), 1);
  }

  setMode(task: Task, mode: Task["mode"]): void {
    task.mode = mode;
    this.arm(task);
  }

  setStart(task: Task, start: number): void {
    task.next = start;
    this.arm(task);
  }

  /** Sets the task's timer for its next run (none when stopped or its scheduler does not run). */
  private arm(task: Task): void {
    disarm(task);
    if (task.mode !== "Active" || !this.active.has(task.scheduler)) return;
    const delay = Math.min(Math.max(0, task.next - Date.now()), MAX_DELAY_MS);
    task.timer = setTimeout(() => this.due(task), delay);
    task.timer.unref?.(); // a scheduler alone does not keep the node's process alive
  }

  private due(task: Task): void {
    const now = Date.now();
    if (now < task.next) return this.arm(task); // a wait longer than one timer allows
    const period = task.every * 1000;
    task.next += period * (Math.floor((now - task.next) / period) + 1);
    if (task.inFlight || task.queued) task.skipped++;
    else this.enqueue(task);
    this.arm(task);
  }

  /** Puts a due task behind the others of its scheduler; the first one due starts the queue. */
  private enqueue(task: Task): void {
    const queue = this.queues.get(task.scheduler) ?? [];
    this.queues.set(task.scheduler, queue);
    task.queued = true;
    queue.push(task);
    if (!this.draining.has(task.scheduler)) void this.drain(task.scheduler);
  }

  /** Forgets the tasks waiting their turn on scheduler `id` (it stopped). */
  private dropQueue(id: number): void {
    for (const task of this.queues.get(id) ?? []) task.queued = false;
    this.queues.delete(id);
  }

  private async drain(id: number): Promise<void> {
    this.draining.add(id);
    try {
      for (let task = this.queues.get(id)?.shift(); task; task = this.queues.get(id)?.shift()) {
        task.queued = false;
        // (removed, stopped or its scheduler stopped while it waited)
        const still = this.active.has(id) && task.mode === "Active" && (this.tasks.get(id) ?? []).includes(task);
        if (still) await this.runNow(task);
      }
    } finally {
      this.draining.delete(id);
    }
  }

  /** Runs the task once now (`task run`, or its timer); never throws, never stops the scheduler. */
  runNow(task: Task): Promise<Result<Reply>> {
    if (task.inFlight) return Promise.resolve(fail("conflict", `task '${task.name}' is running now`));
    const run = (async (): Promise<Result<Reply>> => {
      let fired = false;
      const session = { noteFiring: () => void (fired = true) };
      const r = await this.node.execute(task.command, this.node.context(task.runsAs, () => {}, session));
      task.runs++;
      task.lastRun = new Date();
      if (fired) {
        task.firings++;
        task.lastFired = task.lastRun;
      }
      if (r.ok) {
        task.lastResult = clip(replyToText(r.value));
        task.lastError = undefined;
      } else {
        task.failures++;
        task.lastError = r.error.message;
        task.lastFailed = task.lastRun;
        log.warn(`scheduler ${task.scheduler} task '${task.name}' failed (${task.failures} of ${task.runs} runs): ${r.error.message}`);
      }
      return r;
    })();
    task.inFlight = run;
    this.inFlight.add(run);
    void run.finally(() => {
      task.inFlight = undefined;
      this.inFlight.delete(run);
    });
    return run;
  }
}

function disarm(task: Task): void {
  clearTimeout(task.timer);
  task.timer = undefined;
}

function checkId(id: number): Result<number> {
  if (id < 0 || id > MAX_ID) return fail("bad_value", `a scheduler ID is 0 (system) or 1 to ${MAX_ID} (user), not ${id}`);
  return ok(id);
}

const clip = (s: string) => (s.length > 200 ? `${s.slice(0, 200)}...` : s);

function formatSeconds(seconds: number): string {
  for (const [unit, size] of [["day", 86400], ["hour", 3600], ["minute", 60]] as const) {
    if (seconds >= size && seconds % size === 0) return `${seconds / size} ${unit}${seconds === size ? "" : "s"}`;
  }
  return `${seconds} second${seconds === 1 ? "" : "s"}`;
}

const FORWARD_UNITS: Record<string, "y" | "m" | "w" | "d" | "h" | "t" | "s"> = {
  y: "y", year: "y", years: "y",
  m: "m", month: "m", months: "m",
  w: "w", week: "w", weeks: "w",
  d: "d", day: "d", days: "d",
  h: "h", hour: "h", hours: "h",
  t: "t", minute: "t", minutes: "t",
  s: "s", second: "s", seconds: "s",
};

/**
 * A task's start, as AnyLog takes it: `now()`, `start of year|month|day|hour|minute`, time
 * forward (`+2h`, `+1d`: y m w d h t(minute) s), or a date and time (UTC unless it says).
 */
export function parseStart(text: string, now = new Date()): number | undefined {
  const s = text.trim().toLowerCase();
  if (s === "now()" || s === "now") return now.getTime();
  const startOf = /^start of (year|month|day|hour|minute)$/.exec(s);
  if (startOf) {
    const d = new Date(now);
    const level = ["year", "month", "day", "hour", "minute"].indexOf(startOf[1]!);
    d.setUTCSeconds(0, 0);
    if (level < 4) d.setUTCMinutes(0);
    if (level < 3) d.setUTCHours(0);
    if (level < 2) d.setUTCDate(1);
    if (level < 1) d.setUTCMonth(0);
    return d.getTime();
  }
  const forward = /^\+\s*(\d+)\s*([a-z]+)$/.exec(s);
  if (forward) {
    const n = Number(forward[1]);
    const unit = FORWARD_UNITS[forward[2]!];
    if (!unit) return undefined;
    const d = new Date(now);
    if (unit === "y") d.setUTCFullYear(d.getUTCFullYear() + n);
    else if (unit === "m") d.setUTCMonth(d.getUTCMonth() + n);
    else d.setTime(d.getTime() + n * { w: 604800, d: 86400, h: 3600, t: 60, s: 1 }[unit] * 1000);
    return d.getTime();
  }
  if (!/^\d{4}-\d{2}-\d{2}/.test(s)) return undefined;
  const iso = s.replace(" ", "t");
  const zoned = /(z|[+-]\d{2}:?\d{2})$/.test(iso) || !iso.includes("t") ? iso : `${iso}z`;
  const t = Date.parse(zoned.toUpperCase());
  return Number.isNaN(t) ? undefined : t;
}

registerProcess({
  name: "Scheduler",
  order: 60,
  aliases: ["scheduler"],
  run: {
    words: ["run", "scheduler"],
    summary: "Runs scheduled tasks; 1 (the default) is the users' scheduler, 0 the system's; another ID adds a scheduler",
    positional: [{ name: "id", type: "int", help: `scheduler ID, 0 to ${MAX_ID} (default 1)`, optional: true }],
    examples: ["run scheduler 1"],
  },
  create: (node) => new Scheduler(node),
});

/** The scheduler of a node (registered above, so always present). */
export const scheduler = (node: Node): Scheduler => node.processes.instance("Scheduler", Scheduler);

function notRunning(id: number): Result<never> {
  return fail("unavailable", `scheduler ${id} is not running: start it first with 'run scheduler ${id}'`);
}

/** `task <verb> where [scheduler = N and] name = ... | id = ...`: one task of scheduler N (default 1). */
function taskCommand(
  verb: string,
  summary: string,
  act: (s: Scheduler, task: Task, args: Args) => Promise<Result<Reply>> | Result<Reply>,
  extra: CommandSpec["options"] = {},
): CommandSpec {
  return command({
    words: ["task", verb],
    peer: false,
    summary,
    method: "POST",
    options: {
      scheduler: { type: "int", help: "scheduler ID (default 1)" },
      name: { type: "str", help: "task name" },
      id: { type: "int", help: "task number, as 'get scheduler' lists" },
      ...extra,
    },
    examples: [`task ${verb} where name = "Drop Partitions"${verb === "init" ? " and start = +2h" : ""}`],
    async handler(ctx, args) {
      const s = scheduler(ctx.node);
      const id = args.int("scheduler", USER);
      const name = args.str("name");
      const number = args.int("id");
      if (name === undefined && number === undefined) return fail("bad_option", `'task ${verb}' needs name = <task name> or id = <task number>`);
      const task = name !== undefined ? s.find(id, name) : s.findById(id, number!);
      if (!task) return fail("not_found", `scheduler ${id} has no task ${name !== undefined ? `named '${name}'` : `number ${number}`}; 'get scheduler ${id}' lists its tasks`);
      return act(s, task, args);
    },
  });
}

addCommands(
  command({
    words: ["schedule"],
    peer: false,
    summary: "Adds a task to a scheduler: schedule time = ... and name = ... task <command>",
    method: "POST",
    bareOptions: true,
    options: {
      time: { type: "duration", help: "how often (e.g. 5 minutes, 1 day)", required: true },
      name: { type: "str", help: "task name; scheduling the same name again replaces the task" },
      start: { type: "str", help: "first run: a date and time (UTC), +2h / +1d (y m w d h t s), now() or 'start of day' (default: now)" },
      scheduler: { type: "int", help: "scheduler ID (default 1)" },
    },
    tail: { name: "command", keyword: "task", help: "the command to run (its !values are replaced at each run)", required: true, substitute: false },
    examples: [
      'schedule time = 1 day and name = "Drop Partitions" task drop partition where dbms = !default_dbms and table = !table_name and keep = !partition_keep',
      'schedule time = 5 minutes and name = "Monitor Space" and start = +1h task process !scripts_dir/monitor_space.al',
    ],
    handler(ctx, args) {
      const s = scheduler(ctx.node);
      const id = args.int("scheduler", USER);
      if (!s.isRunning(id)) return notRunning(id);
      const every = args.int("time", 0);
      if (every < 1) return fail("bad_option", `'schedule' time must be at least 1 second, not ${every} seconds`);
      const text = (args.tail ?? "").trim();
      const parsed = parseStatement(text);
      if (!parsed.ok) return fail(parsed.error.code, `the task does not parse: ${parsed.error.message}`);
      const startText = args.str("start");
      const start = startText === undefined ? Date.now() : parseStart(startText);
      if (start === undefined) {
        return fail("bad_option", `'schedule' start '${startText}' is not a date and time, +<n><y|m|w|d|h|t|s>, now() or 'start of day|hour|...'`);
      }
      const name = args.str("name")?.trim() || undefined;
      const replaced = name !== undefined && s.find(id, name) !== undefined;
      // (a peer may not schedule at all: `schedule` is not run for peers)
      const task = s.add(id, name, text, every, start, ctx.source === "rest" ? "rest" : "scheduler");
      const when = start <= Date.now() ? "now" : new Date(start).toISOString();
      return ok(`${replaced ? "Replaced" : "Added"} task ${task.id} '${task.name}' on scheduler ${id}: every ${formatSeconds(every)}, first run ${when}`);
    },
  }),
  command({
    words: ["get", "scheduler"],
    summary: "The schedulers and their tasks (runs, firings of alert rules, last run, last firing, last result or error, next run); one ID for one scheduler",
    method: "GET",
    positional: [{ name: "id", type: "int", help: "scheduler ID (default: all)", optional: true }],
    examples: ["get scheduler", "get scheduler 1"],
    handler(ctx, args) {
      const s = scheduler(ctx.node);
      const id = args.int("id");
      const info = s.info(id);
      if (id !== undefined && (info.schedulers as unknown[]).length === 0) return fail("not_found", `scheduler ${id} is not declared`);
      return ok({ process: "Scheduler", status: s.status(), ...info });
    },
  }),
  command({
    words: ["exit", "scheduler"],
    peer: false,
    summary: "Stops one scheduler, or every scheduler when no ID is given (their tasks are kept for the next 'run scheduler')",
    method: "POST",
    positional: [{ name: "id", type: "int", help: "scheduler ID (default: all)", optional: true }],
    async handler(ctx, args) {
      const s = scheduler(ctx.node);
      const id = args.int("id");
      if (id === undefined) {
        if (s.status() !== "Running") return fail("conflict", "Scheduler is not running");
        await s.stop();
        ctx.node.log.info("Scheduler stopped by 'exit scheduler'");
        return ok("Scheduler stopped");
      }
      if (!s.isRunning(id)) return fail("conflict", `scheduler ${id} is not running`);
      await s.stopOne(id);
      ctx.node.log.info(`scheduler ${id} stopped by 'exit scheduler ${id}'`);
      return ok(`scheduler ${id} stopped`);
    },
  }),
  taskCommand("remove", "Removes a task from its scheduler", (s, task) => {
    s.remove(task);
    return ok(`task '${task.name}' removed`);
  }),
  taskCommand("stop", "Pauses a task (it stays on the scheduler until 'task resume')", (s, task) => {
    s.setMode(task, "Stopped");
    return ok(`task '${task.name}' stopped`);
  }),
  taskCommand("resume", "Resumes a paused task", (s, task) => {
    s.setMode(task, "Active");
    return ok(`task '${task.name}' resumed`);
  }),
  taskCommand("run", "Runs a task now, whatever its schedule, and returns its reply", (s, task) => s.runNow(task)),
  taskCommand(
    "init",
    "Sets a new start for a task: a date and time, or +2h / +1d (y m w d h t s)",
    (s, task, args) => {
      const text = args.str("start", "");
      const start = parseStart(text);
      if (start === undefined) return fail("bad_option", `'task init' start '${text}' is not a date and time, +<n><y|m|w|d|h|t|s>, now() or 'start of ...'`);
      s.setStart(task, start);
      return ok(`task '${task.name}' starts ${new Date(start).toISOString()}`);
    },
    { start: { type: "str", help: "new start: a date and time, +2h, +1d, now()", required: true } },
  ),
);
