/**
 * @module cli/start
 * `anylog start`: dictionary defaults, `--set` values, the role file's command sequence,
 * then `--script`. With no role file, a script of one's own says what the node is; with
 * neither, the embedded default role runs. A console prompt when stdin is a terminal; a
 * clean stop on SIGTERM, SIGINT or `exit node`. Under a systemd unit, systemd hears when
 * start-up is done and when the node stops (node/systemd.ts).
 */
import { createInterface } from "node:readline";
import { runScript } from "../language/interpreter.ts";
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
    const checked = checkRole(roleFile);
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
  const service = serviceManager();
  let failedLines = 0;
  const reportError = (where: string, message: string) => {
    failedLines++;
    process.stderr.write(`${where}: ${message}\n`);
  };
  const node = new Node({ set: options.set });
  // systemd hears STOPPING=1 as shutdown begins, whatever began it (a signal, `exit node`)
  node.onStopping((reason) => service.stopping(`stopping (${reason})`));
  process.on("SIGTERM", () => void node.shutdown("SIGTERM"));
  process.on("SIGINT", () => void node.shutdown("SIGINT"));

  await queryPool(node).start();
  const startup = (async () => {
    if (role) {
      const r = await runScript(role.script, role.file, node.context("script", printReply), reportError);
      if (!r.ok) reportError(role.file, r.error.message);
    }
    if (options.script) {
      const r = await node.runScriptFile(options.script, node.context("script", printReply), reportError);
      if (!r.ok) reportError(options.script, r.error.message);
    }
  })();
  // A stop during start-up (SIGTERM, or `exit node` from a REST client once the REST server
  // is up) must not wait for the start-up commands still to come: the servers are already
  // stopped, and a process whose start was cut short may never finish starting.
  await Promise.race([startup, node.untilStopped()]);
  if (!node.isStopping) {
    log.info(`node '${node.name}' is up`);
    service.ready(upStatus(node, failedLines));
    if (process.stdin.isTTY) console_(node);
  }
  await node.untilStopped();
  log.info("stopped");
  return 0;
}

/** The interactive prompt: `AL <node_name> +> `. */
function console_(node: Node): void {
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
