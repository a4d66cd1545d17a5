/**
 * @module cli/args
 * The executable's command line (INTERFACE §1), parsed into one typed value per call.
 */
import { parseArgs } from "node:util";
import { type Result, fail, ok } from "../util/result.ts";

export type Invocation =
  | { call: "start"; config?: string; script?: string; set: Record<string, string> }
  | { call: "plan" | "check"; config?: string }
  | { call: "cmd"; node: string; post: boolean; command: string }
  | { call: "script"; file: string }
  | { call: "version" }
  | { call: "help" };

export const USAGE = `usage:
  anylog start [--config FILE] [--script FILE] [--set KEY=VALUE]...   run a node in the foreground
  anylog plan  [--config FILE]                                         print the script a role file expands to
  anylog check [--config FILE]                                         validate a role file
  anylog cmd   [--node HOST:PORT] [--post] COMMAND...                  send a command to a running node's REST server
  anylog script FILE                                                   run a script in a throw-away node
  anylog version                                                       version, build target, commit`;

export function parseInvocation(argv: string[]): Result<Invocation> {
  const [call, ...rest] = argv;
  try {
    switch (call) {
      case "start": {
        const { values } = parseArgs({
          args: rest,
          options: { config: { type: "string" }, script: { type: "string" }, set: { type: "string", multiple: true } },
          strict: true,
        });
        const set: Record<string, string> = {};
        for (const kv of values.set ?? []) {
          const at = kv.indexOf("=");
          if (at <= 0) return fail("bad_option", `--set needs KEY=VALUE, got '${kv}'`);
          set[kv.slice(0, at).trim().toLowerCase()] = kv.slice(at + 1);
        }
        return ok({ call, config: values.config, script: values.script, set });
      }
      case "plan":
      case "check": {
        const { values } = parseArgs({ args: rest, options: { config: { type: "string" } }, strict: true });
        return ok({ call, config: values.config });
      }
      case "cmd": {
        const { values, positionals } = parseArgs({
          args: rest,
          options: { node: { type: "string" }, post: { type: "boolean" } },
          strict: true,
          allowPositionals: true,
        });
        if (positionals.length === 0) return fail("syntax", "anylog cmd needs a command, e.g. anylog cmd get status");
        return ok({ call, node: values.node ?? "127.0.0.1:32049", post: values.post ?? false, command: positionals.join(" ") });
      }
      case "script":
        if (rest.length !== 1) return fail("syntax", "anylog script needs one FILE");
        return ok({ call, file: rest[0]! });
      case "version":
      case "--version":
        return ok({ call: "version" });
      case undefined:
      case "help":
      case "--help":
      case "-h":
        return ok({ call: "help" });
      default:
        return fail("unknown_command", `unknown call '${call}'`);
    }
  } catch (e) {
    return fail("bad_option", e instanceof Error ? e.message : String(e));
  }
}
