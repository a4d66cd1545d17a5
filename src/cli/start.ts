/**
 * @module cli/start
 * `anylog start`: dictionary defaults, `--set` values, the role's command sequence, then
 * `--script`. With neither a role file nor a script, the embedded default runs (a script of
 * one's own replaces it: it says what the node is); a console prompt when stdin
 * is a terminal; a clean stop on SIGTERM, SIGINT or `exit node`.
 */
import { existsSync } from "node:fs";
import { createInterface } from "node:readline";
import { runScript } from "../language/interpreter.ts";
import { Node } from "../node/node.ts";
import { DEFAULT_SCRIPT } from "../role/default.ts";
import { queryPool } from "../processes/query-pool/index.ts";
import { logger } from "../util/log.ts";
import { printReply } from "./output.ts";

const log = logger("start");

/** The role file in force: --config, else $ANYLOG_CONFIG, else /etc/anylog/node.yaml when present. */
export function roleFilePath(config: string | undefined): string | undefined {
  if (config) return config;
  if (process.env.ANYLOG_CONFIG) return process.env.ANYLOG_CONFIG;
  return existsSync("/etc/anylog/node.yaml") ? "/etc/anylog/node.yaml" : undefined;
}

const reportError = (where: string, message: string) => process.stderr.write(`${where}: ${message}\n`);

export async function start(options: { config?: string; script?: string; set: Record<string, string> }): Promise<number> {
  const roleFile = roleFilePath(options.config);
  if (roleFile) {
    process.stderr.write(`${roleFile}:1:1 role: role files are not read by this build yet (the role-file issue, #5); start without one for the embedded default\n`);
    return 2;
  }
  const node = new Node({ set: options.set });
  const stop = (signal: string) => void node.shutdown(signal);
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));

  await queryPool(node).start();
  const startup = (async () => {
    if (!options.script) {
      // nothing given: the embedded default, so a newcomer has a working node at once
      const role = await runScript(DEFAULT_SCRIPT, "embedded-default", node.context("script", printReply), reportError);
      if (!role.ok) reportError("embedded-default", role.error.message);
    } else {
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
  rl.on("line", async (line) => {
    const result = await node.execute(line, ctx);
    if (result.ok) printReply(result.value);
    else process.stdout.write(`Error: ${result.error.message}\n`);
    if (!node.isStopping) rl.prompt();
  });
  rl.on("close", () => void node.shutdown("console closed"));
  void node.untilStopped().then(() => rl.close());
}
