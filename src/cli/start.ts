/**
 * @module cli/start
 * `anylog start`: dictionary defaults, `--set` values, the role file's command sequence,
 * then `--script`. With no role file, a script of one's own says what the node is; with
 * neither, the embedded default role runs. A console prompt when stdin is a terminal; a
 * clean stop on SIGTERM, SIGINT or `exit node`. Under a systemd unit, systemd hears when
 * start-up is done and when the node stops (node/systemd.ts).
 *
 * A listener that cannot start (TCP or REST: a port in use, an address not on this machine)
 * ends `anylog start` with exit 1, so systemd's `Restart=on-failure` tries again, unless the
 * script said what to do on errors: an `on error ignore | goto <label> | end script` line
 * before the failing one (AnyLog's meaning: an error no `on error` covers is the script's
 * failure). Other failed lines are reported and the script goes on.
 */
import { stopQueryWorkers, useQueryWorkers } from "../storage/query-worker.ts";
import "../features.ts";
import { readFileSync } from "node:fs";
import type { Reply } from "../commands/spec.ts";
import { runScript } from "../language/interpreter.ts";
import { logicalLines } from "../language/script.ts";
import type { FailedStart } from "../processes/registry.ts";
import { type Result, fail, ok } from "../util/result.ts";
import { Node } from "../node/node.ts";
import { serviceManager, unitRoleMismatch, upStatus } from "../node/systemd.ts";
import { DEFAULT_ROLE_FILE } from "../role/default.ts";
import { checkRole, roleFilePath, roleScript } from "../role/role.ts";
import { queryPool } from "../processes/query-pool/index.ts";
import { logger } from "../util/log.ts";
import { printReply } from "./output.ts";

const log = logger("start");

export async function start(options: { config?: string; script?: string; set: Record<string, string> }): Promise<number> {
  const roleFile = roleFilePath(options.config);
  let role: { file: string; script: string } | undefined;
  if (roleFile || !options.script) {
    const checked = await checkRole(roleFile);
    if (!checked.ok) {
      process.stderr.write(`${checked.error.message}\n`);
      return 2;
    }
    role = { file: roleFile ?? DEFAULT_ROLE_FILE, script: roleScript(checked.value, new Set(Object.keys(options.set))) };
    const mismatch = unitRoleMismatch(checked.value.roles, role.file);
    if (mismatch) {
      process.stderr.write(`${mismatch}\n`);
      return 2;
    }
  }
  // users' queries on SQLite files run in worker processes of this executable (storage/query-worker)
  const compiled = Bun.main.startsWith("/$bunfs/");
  useQueryWorkers(compiled ? [process.execPath, "query-worker"] : [process.execPath, Bun.main, "query-worker"]);
  const service = serviceManager();
  let failedLines = 0;
  let exitCode = 0;
  const node = new Node({ set: options.set });
  /** The texts of the start-up scripts by file name, for the `on error` check. */
  const scripts = new Map<string, string>();
  if (role) scripts.set(role.file, role.script);
  /** Failed listener starts not yet matched to their line, in order. */
  const pending: FailedStart[] = [];
  /** A failed line of a start-up script (`where` = file:line): is it a listener's, and is it covered? */
  const failedLine = (where: string, message: string) => {
    pending.push(...node.processes.takeFailedStarts());
    const i = pending.findIndex((f) => f.message === message);
    if (i < 0) return;
    const [failed] = pending.splice(i, 1);
    if (coveredByOnError(where, scripts)) log.warn(`${where}: ${failed!.process} did not start; the script's 'on error' goes on without it`);
    else stopForFailedStart(where, failed!);
  };
  const stopForFailedStart = (where: string, failed: FailedStart) => {
    if (exitCode !== 0 || node.isStopping) return;
    exitCode = 1;
    process.stderr.write(
      `${where}: ${failed.process} did not start (${failed.message}), so the node stops (exit 1); ` +
        `free the port or change it, or put 'on error ignore' (or 'on error goto <label>') before that line to go on without ${failed.process}\n`,
    );
    void node.shutdown(`${failed.process} did not start`);
  };
  const reportError = (where: string, message: string) => {
    if (exitCode !== 0) return; // the rest of a script cut short by a failed listener is not news
    failedLines++;
    process.stderr.write(`${where}: ${message}\n`);
    failedLine(where, message);
  };
  // `process <file>` reports its script's failed lines as "Error: <where>: <message>" output
  const out = (reply: Reply) => {
    if (exitCode !== 0) return;
    printReply(reply);
    if (typeof reply !== "string" || !reply.startsWith("Error: ")) return;
    pending.push(...node.processes.takeFailedStarts());
    const failed = pending.find((f) => reply.endsWith(`: ${f.message}`));
    if (failed) failedLine(reply.slice("Error: ".length, reply.length - failed.message.length - 2), failed.message);
  };
  // systemd hears STOPPING=1 as shutdown begins, whatever began it (a signal, `exit node`)
  node.onStopping((reason) => service.stopping(`stopping (${reason})`));
  node.onStopping(() => stopQueryWorkers());
  process.on("SIGTERM", () => void node.shutdown("SIGTERM"));
  process.on("SIGINT", () => void node.shutdown("SIGINT"));

  await queryPool(node).start();
  const startup = (async () => {
    if (role) {
      const r = await runScript(role.script, role.file, node.context("script", out), reportError);
      if (!r.ok) reportError(role.file, r.error.message);
    }
    if (options.script && !node.isStopping) {
      // read here (once: it may be /dev/stdin) so that its `on error` lines can be checked
      const text = readScriptFile(options.script);
      if (text.ok) scripts.set(options.script, text.value);
      const r = text.ok ? await runScript(text.value, options.script, node.context("script", out), reportError) : text;
      if (!r.ok) reportError(options.script, r.error.message);
    }
    // a listener's failure no line report matched (a script that reports its errors otherwise)
    for (const failed of [...pending.splice(0), ...node.processes.takeFailedStarts()]) stopForFailedStart(options.script ?? role?.file ?? "start", failed);
  })();
  // A stop during start-up (SIGTERM, or `exit node` from a REST client once the REST server
  // is up) must not wait for the start-up commands still to come: the servers are already
  // stopped, and a process whose start was cut short may never finish starting.
  await Promise.race([startup, node.untilStopped()]);
  if (!node.isStopping) {
    log.info(`node '${node.name}' is up`);
    service.ready(upStatus(node, failedLines));
    // start-up's code runs once (role expansion, YAML, module bodies): when the node is next
    // idle, JavaScriptCore drops compiled code no one runs and returns free pages (about 6 MiB
    // of the default node's idle RSS; bench/startup.ts)
    Bun.gc(true);
    Bun.shrink();
    if (process.stdin.isTTY) await console_(node);
  }
  await node.untilStopped();
  log.info("stopped");
  return exitCode;
}

/** A script file's text; a missing or unreadable file is an error naming it. */
function readScriptFile(path: string): Result<string> {
  try {
    return ok(readFileSync(path, "utf8"));
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : String(e);
    return fail("not_found", `cannot read script '${path}': ${why}`);
  }
}

/**
 * Whether the script says what a failure at `where` ("file:line") means: an `on error` line
 * comes before it in its file. In reading order, which is the order a start-up script runs
 * in; a `goto` back over an `on error` line is not followed. A file not read at start-up
 * (one run by `process`) is read now; one that cannot be read does not cover.
 */
function coveredByOnError(where: string, scripts: Map<string, string>): boolean {
  const at = where.lastIndexOf(":");
  const line = Number(where.slice(at + 1));
  if (at < 0 || !Number.isInteger(line)) return false;
  const file = where.slice(0, at);
  let text = scripts.get(file);
  if (text === undefined) {
    const read = readScriptFile(file);
    if (!read.ok) return false;
    text = read.value;
  }
  const lines = logicalLines(text);
  return lines.ok && lines.value.some((l) => l.line < line && /^on\s+error\b/i.test(l.text));
}

/** The interactive prompt: `AL <node_name> +> ` (node:readline loads only for a terminal). */
async function console_(node: Node): Promise<void> {
  const { createInterface } = await import("node:readline");
  const rl = createInterface({ input: process.stdin, output: process.stdout, prompt: `AL ${node.name} +> ` });
  const ctx = node.context("console", printReply);
  rl.prompt();
  // lines run one after another, in the order typed (or pasted)
  let previous: Promise<void> = Promise.resolve();
  rl.on("line", (line) => {
    previous = previous.then(async () => {
      if (node.isStopping) return;
      const result = await node.execute(line, ctx);
      if (result.ok) printReply(result.value);
      else process.stdout.write(`Error: ${result.error.message}\n`);
      if (!node.isStopping) rl.prompt();
    });
  });
  rl.on("close", () => void previous.then(() => node.shutdown("console closed"))); // typed lines finish first
  void node.untilStopped().then(() => rl.close());
}
