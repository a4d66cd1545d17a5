/**
 * @module language/parser
 * One statement of text to a `Statement`: assignments, `if`/`do`/`else`, script control
 * (`goto`, labels, `end script`, `on error`) and command calls matched against the command
 * table. Options are checked by name and shape here; their values are typed when the
 * statement runs (`language/bind.ts`), after dictionary references are replaced.
 */
import { findCommand, isCommandWord, suggestCommands } from "../commands/table.ts";
import type { CommandSpec, OptionSpec, OptionTable, OptionPattern } from "../commands/spec.ts";
import { type Result, fail, ok } from "../util/result.ts";
import { closest } from "../util/similar.ts";
import type { CommandCall, Condition, RawOption, Statement } from "./ast.ts";
import { type Token, isOp, isWord, tokenText, tokenize } from "./tokens.ts";

const NAME = /^[A-Za-z_][\w.]*$/;

/** Parses one statement (a line, or a `<...>` block already joined into one line). */
export function parseStatement(text: string): Result<Statement> {
  const lexed = tokenize(text);
  if (!lexed.ok) return lexed;
  return statementFrom(lexed.value, text);
}

function statementFrom(tokens: Token[], text: string): Result<Statement> {
  const first = tokens[0];
  if (!first) return ok({ kind: "empty" });
  const head = first.kind === "word" ? first.text.toLowerCase() : "";

  // `:label:` marks a place for `goto`
  if (first.kind === "word" && tokens.length === 1 && /^:[\w-]+:$/.test(first.text)) {
    return ok({ kind: "label", name: first.text.slice(1, -1).toLowerCase() });
  }
  // `name = value` / `name = <command>`
  if (first.kind === "word" && isOp(tokens[1], "=") && NAME.test(first.text) && !first.text.startsWith("!")) {
    return parseAssignment(first.text, tokens.slice(2), text);
  }
  switch (head) {
    case "if":
      return parseIf(tokens.slice(1), text);
    case "do":
    case "else": {
      const rest = tokens.slice(1);
      if (rest.length === 0) return fail("syntax", `'${head}' needs a command after it`);
      const body = statementFrom(rest, text);
      if (!body.ok) return body;
      return ok({ kind: head, body: body.value });
    }
    case "goto":
      if (tokens.length !== 2 || !isWord(tokens[1])) return fail("syntax", "usage: goto <label>");
      return ok({ kind: "goto", label: tokens[1].text.replace(/^:|:$/g, "").toLowerCase() });
    case "end":
      if (isWord(tokens[1], "script") && tokens.length === 2) return ok({ kind: "end-script" });
      break;
    case "on":
      if (isWord(tokens[1], "error")) return parseOnError(tokens.slice(2));
      break;
  }
  const call = parseCommand(tokens, text);
  if (!call.ok) return call;
  return ok({ kind: "command", call: call.value });
}

function parseAssignment(name: string, rest: Token[], text: string): Result<Statement> {
  const head = rest[0];
  // `x = get status` runs a command; a lone word that names no command by itself is a value
  // (`default_dbms = test`, though `test network` is a command)
  const lone = rest.length === 1 && head?.kind === "word" && !findCommand([head.text.toLowerCase()]);
  if (head?.kind === "word" && isCommandWord(head.text) && !lone) {
    const call = parseCommand(rest, text);
    if (!call.ok) return call;
    return ok({ kind: "assign", name: name.toLowerCase(), value: { kind: "command", call: call.value } });
  }
  return ok({ kind: "assign", name: name.toLowerCase(), value: { kind: "text", tokens: rest } });
}

function parseOnError(rest: Token[]): Result<Statement> {
  const words = rest.map((t) => tokenText(t).toLowerCase());
  if (words.join(" ") === "ignore") return ok({ kind: "on-error", action: { kind: "ignore" } });
  if (words.join(" ") === "end script") return ok({ kind: "on-error", action: { kind: "end" } });
  if (words[0] === "goto" && words.length === 2) {
    return ok({ kind: "on-error", action: { kind: "goto", label: words[1]!.replace(/^:|:$/g, "") } });
  }
  return fail("syntax", "usage: on error ignore | on error end script | on error goto <label>");
}

// ---------------------------------------------------------------- if / conditions

function parseIf(rest: Token[], text: string): Result<Statement> {
  const thenAt = rest.findIndex((t) => isWord(t, "then"));
  const condTokens = thenAt < 0 ? rest : rest.slice(0, thenAt);
  if (condTokens.length === 0) return fail("syntax", "'if' needs a condition");
  const condition = parseCondition(condTokens);
  if (!condition.ok) return condition;
  const after = thenAt < 0 ? [] : rest.slice(thenAt + 1);
  if (after.length === 0) return ok({ kind: "if", condition: condition.value });
  const body = statementFrom(after, text);
  if (!body.ok) return body;
  return ok({ kind: "if", condition: condition.value, then: body.value });
}

const COMPARE = new Set(["==", "!=", "<", ">", "<=", ">="]);

/** Parses a condition: `not X`, `X == Y`, `X is Y`, `(...)`, joined by `and` / `or`. */
export function parseCondition(tokens: Token[]): Result<Condition> {
  // `or` binds loosest, then `and`
  for (const joiner of ["or", "and"] as const) {
    const at = tokens.findIndex((t) => isWord(t, joiner));
    if (at > 0) {
      const left = parseCondition(tokens.slice(0, at));
      if (!left.ok) return left;
      const right = parseCondition(tokens.slice(at + 1));
      if (!right.ok) return right;
      return ok({ kind: joiner, left: left.value, right: right.value });
    }
  }
  const first = tokens[0];
  if (!first) return fail("syntax", "a condition is missing");
  if (isWord(first, "not")) {
    const operand = parseCondition(tokens.slice(1));
    if (!operand.ok) return operand;
    return ok({ kind: "not", operand: operand.value });
  }
  if (first.kind === "group" && tokens.length === 1) return parseCondition(first.items);
  const opAt = tokens.findIndex((t) => (t.kind === "op" && COMPARE.has(t.text)) || isWord(t, "is"));
  if (opAt >= 0) {
    const opToken = tokens[opAt]!;
    let op = (opToken.kind === "op" ? opToken.text : "==") as "==" | "!=" | "<" | ">" | "<=" | ">=";
    let right = tokens.slice(opAt + 1);
    if (isWord(opToken, "is") && isWord(right[0], "not")) {
      op = "!=";
      right = right.slice(1);
    }
    const left = tokens.slice(0, opAt);
    if (left.length === 0 || right.length === 0) return fail("syntax", `comparison '${tokenText(opToken)}' needs a value on each side`);
    return ok({ kind: "compare", op, left, right });
  }
  return ok({ kind: "truthy", operand: tokens });
}

// ---------------------------------------------------------------- commands

/** Matches `tokens` to a command of the table and checks its arguments against the declaration. */
export function parseCommand(tokens: Token[], text: string): Result<CommandCall> {
  const words: string[] = [];
  for (const t of tokens) {
    if (t.kind !== "word") break;
    words.push(t.text.toLowerCase());
  }
  const found = findCommand(words);
  if (!found) {
    const typed = tokens.slice(0, 3).map(tokenText).join(" ");
    const near = suggestCommands(words.length > 0 ? words : [typed]);
    const hint = near.length > 0 ? `; did you mean: ${near.join(", ")}?` : "; 'help' lists the commands";
    return fail("unknown_command", `unknown command '${typed}'${hint}`);
  }
  const { spec, used } = found;
  const name = spec.words.join(" ");
  const call: CommandCall = { spec, positional: {}, options: [], text: text.trim() };
  let rest = tokens.slice(used);

  const stopsAt = (t: Token | undefined) =>
    t !== undefined && (isWhere(spec, t) || isTailKeyword(spec, t) || startsBareOption(spec, rest, t));

  // positional arguments
  for (const p of spec.positional ?? []) {
    if (p.after) {
      if (!isWord(rest[0], p.after)) {
        if (p.optional) continue;
        return fail("syntax", `'${name}' expects '${p.after} <${p.name}>' here, found ${describe(rest[0])}`);
      }
      rest = rest.slice(1);
    }
    if (rest.length === 0 || stopsAt(rest[0])) {
      if (p.optional) continue;
      return fail("bad_option", `'${name}' needs <${p.name}> (${p.help})`);
    }
    if (p.rest) {
      let n = 0;
      while (n < rest.length && !stopsAt(rest[n]) && !followsAsKeyword(spec, rest[n]!)) n++;
      call.positional[p.name] = rest.slice(0, n);
      rest = rest.slice(n);
    } else {
      call.positional[p.name] = [rest[0]!];
      rest = rest.slice(1);
    }
  }

  // where-clause (or bare options)
  if (rest[0] && (isWhere(spec, rest[0]) || startsBareOption(spec, rest, rest[0]))) {
    if (isWhere(spec, rest[0])) rest = rest.slice(1);
    const end = rest.findIndex((t, i) => isTailKeyword(spec, t) || startsBareTail(spec, rest, i));
    // `... and time = 15 minutes and task process ...` (as AnyLog's documents write it): the
    // `and` before the tail's keyword joins nothing
    const andBeforeTail = end > 0 && isWord(rest[end - 1], "and") && isTailKeyword(spec, rest[end]!);
    const clause = end < 0 ? rest : rest.slice(0, andBeforeTail ? end - 1 : end);
    const parsed = parseOptions(clause, { options: spec.options ?? {}, patterns: spec.patterns, any: spec.anyOption }, name);
    if (!parsed.ok) return parsed;
    call.options = parsed.value;
    rest = end < 0 ? [] : rest.slice(end);
  }

  // tail
  if (spec.tail) {
    const t = rest[0];
    if (t && (!spec.tail.keyword || isTailKeyword(spec, t))) {
      const skip = spec.tail.keyword !== undefined && !spec.tail.keepKeyword && isWord(t, spec.tail.keyword);
      const from = skip ? rest[1] : t;
      call.tail = from ? text.slice(from.pos).trim() : "";
      if (skip && !from) {
        return fail("syntax", `'${name}': '${spec.tail.keyword}' needs ${spec.tail.help} after it`);
      }
      rest = [];
    } else if (spec.tail.required) {
      return fail("syntax", `'${name}' needs ${spec.tail.keyword ? `'${spec.tail.keyword} ' followed by ` : ""}${spec.tail.help}`);
    }
  }
  if (rest.length > 0) {
    const extra = rest[0]!;
    const hint = spec.options || spec.anyOption ? " (options go after 'where')" : "";
    return fail("syntax", `'${name}' does not take ${describe(extra)} here${hint}`);
  }
  for (const [key, opt] of Object.entries(spec.options ?? {})) {
    if (opt.required && !call.options.some((o) => o.key === key)) {
      return fail("bad_option", `'${name}' needs the option '${key}' (${opt.type}: ${opt.help})`);
    }
  }
  return ok(call);
}

const isWhere = (spec: CommandSpec, t: Token) =>
  isWord(t, "where") && (spec.options !== undefined || spec.anyOption === true || spec.patterns !== undefined);

function isTailKeyword(spec: CommandSpec, t: Token): boolean {
  const k = spec.tail?.keyword;
  if (!k || t.kind !== "word") return false;
  const w = t.text.toLowerCase();
  return w === k || w.startsWith(`${k}.`);
}

/** A tail without a keyword starts at a quoted string that is not an option's value (`sql d format=json "select"`). */
function startsBareTail(spec: CommandSpec, rest: Token[], i: number): boolean {
  return spec.tail !== undefined && !spec.tail.keyword && rest[i]?.kind === "string" && !isOp(rest[i - 1], "=");
}

/** `schedule time=... and name=...`: options without `where`, for commands that allow it. */
function startsBareOption(spec: CommandSpec, rest: Token[], t: Token): boolean {
  if (!spec.bareOptions || t.kind !== "word") return false;
  const i = rest.indexOf(t);
  return i >= 0 && isOp(rest[i + 1], "=");
}

/** A `rest` positional stops before the literal word of a later positional. */
function followsAsKeyword(spec: CommandSpec, t: Token): boolean {
  return t.kind === "word" && (spec.positional ?? []).some((p) => p.after === t.text.toLowerCase());
}

function describe(t: Token | undefined): string {
  return t ? `'${tokenText(t)}'` : "the end of the command";
}

interface OptionScope {
  options: OptionTable;
  patterns?: OptionPattern[];
  any?: boolean;
}

function lookupOption(scope: OptionScope, key: string): OptionSpec | undefined {
  const direct = scope.options[key];
  if (direct) return direct;
  const byPattern = scope.patterns?.find((p) => key.startsWith(p.prefix));
  if (byPattern) return byPattern.spec;
  return scope.any ? { type: "any", help: "a value to match", multiple: true } : undefined;
}

/** Parses `k = v and k2 = v2 ...` (the tokens after `where`, or inside a nested group). */
export function parseOptions(tokens: Token[], scope: OptionScope, commandName: string): Result<RawOption[]> {
  const out: RawOption[] = [];
  let i = 0;
  if (tokens.length === 0) return fail("syntax", `'${commandName}': 'where' must be followed by options`);
  while (i < tokens.length) {
    const keyToken = tokens[i]!;
    if (keyToken.kind !== "word" && keyToken.kind !== "string") {
      return fail("syntax", `'${commandName}': expected an option name, found ${describe(keyToken)}`);
    }
    const key = (keyToken.kind === "word" ? keyToken.text : keyToken.text).toLowerCase();
    if (!isOp(tokens[i + 1], "=")) {
      return fail("syntax", `'${commandName}': option '${key}' must be followed by '=' and a value, found ${describe(tokens[i + 1])}`);
    }
    const spec = lookupOption(scope, key);
    if (!spec) {
      const known = Object.keys(scope.options);
      const near = closest(key, known, 1);
      const hint = near.length > 0 ? `; did you mean '${near[0]}'?` : known.length > 0 ? `; expected one of: ${known.join(", ")}` : "";
      return fail("bad_option", `'${commandName}' has no option '${key}'${hint}`);
    }
    let j = i + 2;
    while (j < tokens.length && !isWord(tokens[j], "and")) j++;
    const value = tokens.slice(i + 2, j);
    if (value.length === 0) return fail("syntax", `'${commandName}': option '${key}' has no value`);
    const stray = value.findIndex((t) => isOp(t, "="));
    if (stray > 0) {
      return fail("syntax", `'${commandName}': 'and' is missing before '${tokenText(value[stray - 1]!)}' (options are joined by 'and')`);
    }
    if (j < tokens.length && j === tokens.length - 1) {
      return fail("syntax", `'${commandName}': the where-clause ends in 'and': an option is missing after it`);
    }
    const option: RawOption = { key, tokens: value, pos: keyToken.pos };
    const loose = spec.type === "any" && value.length === 1 && value[0]?.kind === "group" && value[0].items.some((t) => isOp(t, "="));
    if (loose && value[0]?.kind === "group") {
      const inner = parseOptions(value[0].items, { options: {}, any: true }, `${commandName} ${key}`);
      if (!inner.ok) return inner;
      option.nested = inner.value;
    } else if (spec.type === "nested") {
      const group = value[0];
      if (value.length !== 1 || group?.kind !== "group") {
        return fail("bad_option", `'${commandName}': option '${key}' expects (name = value and ...), found '${value.map(tokenText).join(" ")}'`);
      }
      const inner = parseOptions(group.items, { options: spec.options ?? {}, patterns: spec.patterns }, `${commandName} ${key}`);
      if (!inner.ok) return inner;
      option.nested = inner.value;
    }
    if (!spec.multiple && out.some((o) => o.key === key) && spec.type !== "nested") {
      return fail("bad_option", `'${commandName}': option '${key}' is given twice`);
    }
    out.push(option);
    i = j + 1;
  }
  return ok(out);
}
