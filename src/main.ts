#!/usr/bin/env bun
/**
 * @module main
 * The `anylog` executable: dispatches the calls of INTERFACE §1.
 */
import "./features.ts";
import { cmd } from "./cli/cmd.ts";
import { USAGE, parseInvocation } from "./cli/args.ts";
import { printReply } from "./cli/output.ts";
import { start } from "./cli/start.ts";
import { Node } from "./node/node.ts";
import { checkRole, roleFilePath, roleScript } from "./role/role.ts";
import { versionLine } from "./version.ts";
import { runQueryWorker } from "./storage/query-worker.ts";

async function main(argv: string[]): Promise<number> {
  const inv = parseInvocation(argv);
  if (!inv.ok) {
    process.stderr.write(`anylog: ${inv.error.message}\n${USAGE}\n`);
    return 2;
  }
  const i = inv.value;
  switch (i.call) {
    case "help":
      process.stdout.write(`${USAGE}\n`);
      return 0;
    case "version":
      process.stdout.write(`${versionLine()}\n`);
      return 0;
    case "start":
      return start(i);
    case "query-worker":
      return runQueryWorker();
    case "cmd":
      return cmd(i);
    case "plan":
    case "check": {
      const file = roleFilePath(i.config);
      const checked = await checkRole(file);
      if (!checked.ok) {
        for (const p of checked.problems ?? [checked.error.message]) process.stderr.write(`${p}\n`);
        return 2;
      }
      if (i.call === "plan") process.stdout.write(roleScript(checked.value));
      else process.stdout.write(`${file ?? "embedded default"}: ok (role ${checked.value.roles.join(", ")})\n`);
      return 0;
    }
    case "script": {
      const node = new Node();
      const report = await node.runScriptFile(i.file, node.context("script", printReply), (where, message) =>
        process.stderr.write(`${where}: ${message}\n`),
      );
      await node.shutdown("script finished");
      if (!report.ok) {
        process.stderr.write(`${report.error.message}\n`);
        return 1;
      }
      return report.value.ended === "error" ? 1 : 0;
    }
  }
}

process.exitCode = await main(process.argv.slice(2));
// servers and timers of a stopped node must not keep the process alive
process.exit(process.exitCode);
