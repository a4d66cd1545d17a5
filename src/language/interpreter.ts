/**
 * @module language/interpreter
 * Runs statements: binds a command call's values and calls its handler, keeps `x = ...`
 * results in the dictionary, follows `if` / `do` / `else`, and runs scripts with labels,
 * `goto`, `end script` and `on error` policies. The command boundary: nothing a handler
 * throws gets past `runCall`; it becomes an `internal` error value, its stack logged only.
 */
import type { CommandContext } from "../commands/context.ts";
import type { Args, CommandSpec, Reply } from "../commands/spec.ts";
import { logger } from "../util/log.ts";
import { type Result, fail, fromException, ok } from "../util/result.ts";
import type { CommandCall, Condition, Statement } from "./ast.ts";
import { bindCall, type Scope, tokensToText } from "./bind.ts";
import { parseStatement } from "./parser.ts";
import { scopeOf } from "./scope.ts";
import { checkRemotePath } from "../security/paths.ts";
import { type ScriptItem, readScript } from "./script.ts";
import type { Token } from "./tokens.ts";

const log = logger("interpreter");

type Control = { kind: "goto"; label: string } | { kind: "end" } | { kind: "on-error"; action: OnError };
type OnError = { kind: "ignore" } | { kind: "end" } | { kind: "goto"; label: string };

export interface Step {
  result: Result<Reply>;
  control?: Control;
  /** The statement printed nothing of its own (assignments, control lines). */
  quiet?: boolean;
}

/** Runs one command call: bind values, call the handler, never throw. */
export async function runCall(call: CommandCall, ctx: CommandContext): Promise<Result<Reply>> {
  const name = call.spec.words.join(" ");
  // (a peer reaches the node without a user: commands that could take the node over are not its to run)
  if (ctx.source === "peer" && call.spec.peer === false) {
    return fail("forbidden", `'${name}' is not run when a peer sends it over TCP: run it on the node itself (console, script or REST)`);
  }
  const args = bindCall(call, scopeOf(ctx));
  if (!args.ok) return { ok: false, error: args.error.withCommand(name) };
  const outside = checkPaths(call.spec, args.value, ctx);
  if (!outside.ok) return { ok: false, error: outside.error.withCommand(name) };
  try {
    const r = await call.spec.handler(ctx, args.value);
    return r.ok ? r : { ok: false, error: r.error.withCommand(name) };
  } catch (e) {
    log.error(`'${name}' failed unexpectedly: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    return { ok: false, error: fromException(e).withCommand(name) };
  }
}

/** The paths a command's values name, checked for where its sender may point (security/paths). */
function checkPaths(spec: CommandSpec, args: Args, ctx: CommandContext): Result<void> {
  if (ctx.source !== "rest" && ctx.source !== "peer") return ok(undefined);
  const names = new Set([...(spec.paths ?? []), ...Object.keys(args.options).filter((k) => k.endsWith("_dir"))]);
  for (const name of names) {
    const value = args.str(name);
    // ("-" is a reply body; a blob selector is not a string)
    if (value === undefined || value === "-" || value === "" || typeof (args.options[name] ?? args.positional[name]) === "object") continue;
    const checked = checkRemotePath(ctx, value, `'${name}'`);
    if (!checked.ok) return checked;
  }
  return ok(undefined);
}

/** The text a reply leaves in the dictionary (`x = <command>`). Empty results leave "". */
export function replyToText(reply: Reply): string {
  if (reply === undefined || reply === null) return "";
  if (typeof reply === "string") return reply;
  if (Array.isArray(reply) && reply.length === 0) return "";
  return typeof reply === "object" ? JSON.stringify(reply) : String(reply);
}

/** Runs one parsed statement. */
export async function runStatement(stmt: Statement, ctx: CommandContext): Promise<Step> {
  switch (stmt.kind) {
    case "empty":
    case "label":
      return { result: ok(undefined), quiet: true };
    case "command":
      return { result: await runCall(stmt.call, ctx) };
    case "assign": {
      if (stmt.value.kind === "command") {
        // the dictionary holds the whole reply (a query's answer is not streamed into it)
        const r = await runCall(stmt.value.call, { ...ctx, stream: false });
        if (!r.ok) return { result: r };
        ctx.node.dictionary.set(stmt.name, replyToText(r.value));
        return { result: ok(undefined), quiet: true };
      }
      const text = tokensToText(stmt.value.tokens, scopeOf(ctx));
      if (!text.ok) return { result: text };
      ctx.node.dictionary.set(stmt.name, text.value);
      return { result: ok(undefined), quiet: true };
    }
    case "if": {
      const truth = evaluate(stmt.condition, scopeOf(ctx));
      ctx.session.lastIf = truth;
      if (truth) ctx.session.noteFiring?.();
      if (truth && stmt.then) return runStatement(stmt.then, ctx);
      return { result: ok(undefined), quiet: true };
    }
    case "do":
    case "else": {
      if (ctx.session.lastIf === undefined) return { result: fail("syntax", `'${stmt.kind}' must follow an 'if'`) };
      const runIt = stmt.kind === "do" ? ctx.session.lastIf : !ctx.session.lastIf;
      if (!runIt) return { result: ok(undefined), quiet: true };
      const saved = ctx.session.lastIf;
      const step = await runStatement(stmt.body, ctx);
      ctx.session.lastIf = saved; // a nested statement does not change which branch the next do/else follows
      return step;
    }
    case "goto":
      return { result: ok(undefined), control: { kind: "goto", label: stmt.label }, quiet: true };
    case "end-script":
      return { result: ok(undefined), control: { kind: "end" }, quiet: true };
    case "on-error":
      return { result: ok(undefined), control: { kind: "on-error", action: stmt.action }, quiet: true };
  }
}

/** Parses and runs one line of text (console, REST, peer). */
export async function runText(text: string, ctx: CommandContext): Promise<Step> {
  const stmt = parseStatement(text);
  if (!stmt.ok) return { result: { ok: false, error: stmt.error.withCommand(text.trim()) } };
  return runStatement(stmt.value, ctx);
}

// ---------------------------------------------------------------- conditions

function operandText(tokens: Token[], scope: Scope, bareIsKey: boolean): string {
  const only = tokens[0];
  if (bareIsKey && tokens.length === 1 && only?.kind === "word" && !/[!$]/.test(only.text)) {
    const v = scope.lookup(only.text);
    if (v !== undefined) return queryValue(v);
  }
  const t = tokensToText(tokens, scope, true);
  return t.ok ? queryValue(t.value) : "";
}

/**
 * A query's answer kept in the dictionary (`x = sql ... "select max(value) ..."`) compares as
 * its one value when it has one row of one column: `{"Query": [{"max(value)": 120}], ...}`
 * (or the `[{...}]` of format = json:list) is 120, so `if !x > 100` reads the maximum, not
 * the JSON text. No row, or a null, is "" (not set). Other text is compared as it is.
 */
export function queryValue(text: string): string {
  const t = text.trim();
  if (!(t.startsWith("{\"Query\"") || t.startsWith("[{") || t === "[]")) return text;
  let parsed: unknown;
  try {
    parsed = JSON.parse(t);
  } catch {
    return text;
  }
  const rows = Array.isArray(parsed) ? parsed : (parsed as { Query?: unknown }).Query;
  if (!Array.isArray(rows) || rows.length > 1) return text;
  if (rows.length === 0) return "";
  const row: unknown = rows[0];
  if (typeof row !== "object" || row === null) return text;
  const values = Object.values(row);
  if (values.length !== 1) return text;
  const v = values[0];
  return v === null || v === undefined ? "" : typeof v === "object" ? JSON.stringify(v) : String(v);
}

const truthy = (v: string) => {
  const s = v.trim().toLowerCase();
  return s !== "" && s !== "false" && s !== "[]" && s !== "{}" && s !== "null";
};

/** Evaluates a condition; references that are not set count as empty. */
export function evaluate(c: Condition, scope: Scope): boolean {
  switch (c.kind) {
    case "not":
      return !evaluate(c.operand, scope);
    case "and":
      return evaluate(c.left, scope) && evaluate(c.right, scope);
    case "or":
      return evaluate(c.left, scope) || evaluate(c.right, scope);
    case "truthy":
      return truthy(operandText(c.operand, scope, false));
    case "compare": {
      const a = operandText(c.left, scope, true);
      const b = operandText(c.right, scope, false);
      // a value that is not set (or a query that found no row) is neither less nor greater than anything:
      // an alert rule `if !free < 10` must not fire before the value is known
      const ordered = c.op !== "==" && c.op !== "!=";
      if (ordered && (a.trim() === "" || b.trim() === "")) return false;
      const numeric = a.trim() !== "" && b.trim() !== "" && !Number.isNaN(Number(a)) && !Number.isNaN(Number(b));
      const x: number | string = numeric ? Number(a) : a.toLowerCase();
      const y: number | string = numeric ? Number(b) : b.toLowerCase();
      switch (c.op) {
        case "==": return x === y;
        case "!=": return x !== y;
        case "<": return x < y;
        case ">": return x > y;
        case "<=": return x <= y;
        case ">=": return x >= y;
      }
    }
  }
}

// ---------------------------------------------------------------- scripts

export interface ScriptReport {
  statements: number;
  errors: number;
  ended: "end" | "end script" | "error";
}

/** Runs a script's text. Outputs and errors (with file and line) go to `ctx.out` / `onError`. */
export async function runScript(
  text: string,
  file: string,
  ctx: CommandContext,
  onError: (where: string, message: string) => void,
): Promise<Result<ScriptReport>> {
  ctx = { ...ctx, stream: false }; // a script's replies are printed whole
  const items = readScript(text);
  if (!items.ok) return fail("syntax", `${file}: ${items.error.message}`);
  const report: ScriptReport = { statements: 0, errors: 0, ended: "end" };
  let policy: OnError = { kind: "ignore" };

  const labels = new Map<string, number>();
  items.value.forEach((item, i) => {
    if (item.kind === "line" && /^:[\w-]+:$/.test(item.text)) labels.set(item.text.slice(1, -1).toLowerCase(), i);
  });

  /** Runs a list of items; returns a control transfer that leaves the list, if any. */
  async function runItems(list: ScriptItem[], top: boolean): Promise<Control | undefined> {
    for (let i = 0; i < list.length; i++) {
      const item = list[i]!;
      let step: Step;
      if (item.kind === "block") {
        const holds = evaluate(item.condition, scopeOf(ctx));
        if (holds) ctx.session.noteFiring?.();
        const branch = holds ? item.then : item.otherwise;
        const control = await runItems(branch, false);
        if (control) {
          if (!top) return control;
          const jump = await follow(control);
          if (jump === "stop") return { kind: "end" };
          if (jump !== undefined) i = jump - 1;
        }
        continue;
      }
      report.statements++;
      step = await runText(item.text, ctx);
      // a turn of the event loop between lines: a server a line started answers at once
      // (a start-up script's first /health), not when the whole script is done
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (!step.result.ok) {
        report.errors++;
        onError(`${file}:${item.line}`, step.result.error.message);
        if (policy.kind === "end") {
          report.ended = "error";
          return { kind: "end" };
        }
        if (policy.kind === "goto") step = { result: step.result, control: { kind: "goto", label: policy.label } };
      } else if (!step.quiet && step.result.value !== undefined) {
        ctx.out(step.result.value);
      }
      if (step.control?.kind === "on-error") {
        policy = step.control.action;
        continue;
      }
      if (step.control) {
        if (!top) return step.control;
        const jump = await follow(step.control);
        if (jump === "stop") return { kind: "end" };
        if (jump !== undefined) i = jump - 1;
      }
    }
    return undefined;
  }

  async function follow(control: Control): Promise<number | "stop" | undefined> {
    if (control.kind === "end") {
      if (report.ended === "end") report.ended = "end script";
      return "stop";
    }
    if (control.kind === "goto") {
      const at = labels.get(control.label);
      if (at === undefined) {
        report.errors++;
        onError(file, `goto: no label ':${control.label}:' in this script`);
        report.ended = "error";
        return "stop";
      }
      return at + 1;
    }
    return undefined;
  }

  await runItems(items.value, true);
  return ok(report);
}
