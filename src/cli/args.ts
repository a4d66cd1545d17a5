/**
 * @module cli/args
 * The executable's command line (INTERFACE §1), parsed into one typed value per call.
 * Options are `--name value` or `--name=value` (node:util's parseArgs would do, but loading
 * node:util costs a running node ~7 MiB of RSS for a few lines of parsing).
 */
import { type Result, fail, ok } from "../util/result.ts";

type OptionKind = "string" | "strings" | "boolean";

interface Parsed {
  values: Record<string, string | string[] | boolean | undefined>;
  positionals: string[];
}

/** Parses `args` against `options`; an unknown option, or one without its value, is an error naming it. */
function parseOptions(args: string[], options: Record<string, OptionKind>, allowPositionals = false): Result<Parsed> {
  const values: Parsed["values"] = {};
  const positionals: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--") {
      if (!allowPositionals && i + 1 < args.length) return fail("bad_option", `unexpected argument '${args[i + 1]}'`);
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (!arg.startsWith("--") || arg === "--") {
      if (!allowPositionals) return fail("bad_option", `unexpected argument '${arg}'`);
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    const kind = options[name];
    if (!kind) return fail("bad_option", `unknown option '--${name}'${Object.keys(options).length ? ` (options: ${Object.keys(options).map((o) => `--${o}`).join(", ")})` : ""}`);
    if (kind === "boolean") {
      if (eq >= 0) return fail("bad_option", `option '--${name}' takes no value`);
      values[name] = true;
      continue;
    }
    let value: string | undefined;
    if (eq >= 0) value = arg.slice(eq + 1);
    else if (i + 1 < args.length && !args[i + 1]!.startsWith("--")) value = args[++i];
    if (value === undefined) return fail("bad_option", `option '--${name} <value>' is missing its value`);
    if (kind === "strings") values[name] = [...((values[name] as string[] | undefined) ?? []), value];
    else values[name] = value;
  }
  return ok({ values, positionals });
}

export type Invocation =
  | { call: "start"; config?: string; script?: string; set: Record<string, string> }
  | { call: "plan" | "check"; config?: string }
  | { call: "cmd"; node: string; post: boolean; command: string }
  | { call: "script"; file: string }
  | { call: "version" }
  | { call: "help" }
  /** A node's query worker (storage/query-worker): started by the node itself, not by users. */
  | { call: "query-worker" };

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
        const parsed = parseOptions(rest, { config: "string", script: "string", set: "strings" });
        if (!parsed.ok) return parsed;
        const values = parsed.value.values as { config?: string; script?: string; set?: string[] };
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
        const parsed = parseOptions(rest, { config: "string" });
        if (!parsed.ok) return parsed;
        return ok({ call, config: parsed.value.values.config as string | undefined });
      }
      case "cmd": {
        const parsed = parseOptions(rest, { node: "string", post: "boolean" }, true);
        if (!parsed.ok) return parsed;
        const { positionals } = parsed.value;
        const values = parsed.value.values as { node?: string; post?: boolean };
        if (positionals.length === 0) return fail("syntax", "anylog cmd needs a command, e.g. anylog cmd get status");
        return ok({ call, node: values.node ?? "127.0.0.1:32049", post: values.post ?? false, command: positionals.join(" ") });
      }
      case "script":
        if (rest.length !== 1) return fail("syntax", "anylog script needs one FILE");
        return ok({ call, file: rest[0]! });
      case "version":
      case "--version":
        return ok({ call: "version" });
      case "query-worker":
        return ok({ call: "query-worker" });
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
