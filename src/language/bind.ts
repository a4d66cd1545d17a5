/**
 * @module language/bind
 * Turns raw tokens into values when a statement runs: `!name` (with `.int`, `.str`,
 * `.float`, `.bool`) from the dictionary, `$NAME` from the environment, `!name` inside JSON
 * blocks as JSON values, and option values converted to their declared types.
 */
import { Args, type OptionSpec, type PositionalSpec, type ValueType } from "../commands/spec.ts";
import { type Result, fail, ok } from "../util/result.ts";
import type { CommandCall, RawOption } from "./ast.ts";
import { type Token, tokenText } from "./tokens.ts";

/** Where references are looked up. */
export interface Scope {
  lookup(name: string): string | undefined;
  env(name: string): string | undefined;
}

const REF = /!([A-Za-z_]\w*)(?:\.(int|str|float|bool))?|\$([A-Za-z_]\w*)/g;

/** One reference's value, typed by its suffix; `undefined` when lenient and missing. */
function refValue(scope: Scope, m: RegExpMatchArray, lenient: boolean): Result<string | undefined> {
  const [whole, dictName, suffix, envName] = m;
  if (envName !== undefined) {
    const v = scope.env(envName);
    if (v === undefined && !lenient) return fail("bad_value", `environment variable $${envName} is not set (a request over REST or from a peer reads only the node's ANYLOG_* and deployment variables)`);
    return ok(v);
  }
  const v = scope.lookup(dictName!.toLowerCase());
  if (v === undefined) {
    if (lenient) return ok(undefined);
    return fail("bad_value", `'!${dictName}' is not in the dictionary (set it first: ${dictName} = <value>)`);
  }
  switch (suffix) {
    case "int":
      if (!/^\s*-?\d+(\.0*)?\s*$/.test(v)) return fail("bad_value", `'${whole}': '${v}' is not a whole number`);
      return ok(String(Number.parseInt(v, 10)));
    case "float":
      if (v.trim() === "" || Number.isNaN(Number(v))) return fail("bad_value", `'${whole}': '${v}' is not a number`);
      return ok(String(Number(v)));
    case "bool": {
      const b = toBool(v);
      if (b === undefined) return fail("bad_value", `'${whole}': '${v}' is not true or false`);
      return ok(String(b));
    }
    default:
      return ok(v);
  }
}

/** Replaces every reference in `text`. Lenient mode leaves nothing for missing ones (conditions). */
export function substitute(text: string, scope: Scope, lenient = false): Result<string> {
  if (!text.includes("!") && !text.includes("$")) return ok(text);
  let out = "";
  let last = 0;
  for (const m of text.matchAll(REF)) {
    const v = refValue(scope, m, lenient);
    if (!v.ok) return v;
    out += text.slice(last, m.index) + (v.value ?? "");
    last = m.index! + m[0].length;
  }
  return ok(out + text.slice(last));
}

/** Replaces references in command text that will be sent on (tails), leaving quoted text alone. */
export function substituteOutsideQuotes(text: string, scope: Scope): Result<string> {
  let out = "";
  let i = 0;
  while (i < text.length) {
    const q = text.slice(i).search(/["']/);
    const end = q < 0 ? text.length : i + q;
    const sub = substitute(text.slice(i, end), scope);
    if (!sub.ok) return sub;
    out += sub.value;
    if (q < 0) break;
    const quote = text[end]!;
    const close = text.indexOf(quote, end + 1);
    const stop = close < 0 ? text.length : close + 1;
    out += text.slice(end, stop);
    i = stop;
  }
  return ok(out);
}

/** The text value of a run of tokens: references replaced, words joined by single spaces. */
export function tokensToText(tokens: Token[], scope: Scope, lenient = false): Result<string> {
  const parts: string[] = [];
  for (const t of tokens) {
    if (t.kind === "string") parts.push(t.text);
    else if (t.kind === "json") {
      const j = substituteJson(t.raw, scope);
      if (!j.ok) return j;
      parts.push(JSON.stringify(j.value));
    } else {
      const s = substitute(tokenText(t), scope, lenient);
      if (!s.ok) return s;
      parts.push(s.value);
    }
  }
  return ok(parts.join(" "));
}

/**
 * Parses a JSON block whose values may be dictionary references:
 * `{"port": !port.int, "name": !node_name}` — text values become JSON strings, `.int` /
 * `.float` / `.bool` become numbers and booleans, a value that is itself JSON is inserted as is.
 */
export function substituteJson(raw: string, scope: Scope): Result<unknown> {
  let out = "";
  let i = 0;
  while (i < raw.length) {
    const c = raw[i]!;
    if (c === '"') {
      const end = raw.slice(i + 1).search(/(?<!\\)"/);
      const stop = end < 0 ? raw.length : i + 1 + end + 1;
      out += raw.slice(i, stop);
      i = stop;
      continue;
    }
    if (c === "!" || c === "$") {
      REF.lastIndex = 0;
      const m = new RegExp(REF.source, "y");
      m.lastIndex = i;
      const found = m.exec(raw);
      if (found) {
        const v = refValue(scope, found, false);
        if (!v.ok) return v;
        out += jsonLiteral(v.value ?? "", found[2]);
        i += found[0].length;
        continue;
      }
    }
    out += c;
    i++;
  }
  try {
    return ok(JSON.parse(out));
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    return fail("bad_value", `bad JSON: ${why} in ${out.length > 120 ? `${out.slice(0, 120)}...` : out}`);
  }
}

function jsonLiteral(value: string, suffix: string | undefined): string {
  if (suffix === "int" || suffix === "float" || suffix === "bool") return value;
  const t = value.trim();
  if ((t.startsWith("{") && t.endsWith("}")) || (t.startsWith("[") && t.endsWith("]"))) {
    try {
      JSON.parse(t);
      return t;
    } catch {
      // not JSON: a plain string that happens to start with a bracket
    }
  }
  return JSON.stringify(value);
}

export function toBool(v: string): boolean | undefined {
  const s = v.trim().toLowerCase();
  if (s === "true" || s === "1" || s === "yes" || s === "on") return true;
  if (s === "false" || s === "0" || s === "no" || s === "off") return false;
  return undefined;
}

const UNIT_SECONDS: Record<string, number> = {
  s: 1, sec: 1, second: 1, seconds: 1,
  m: 60, min: 60, minute: 60, minutes: 60,
  h: 3600, hour: 3600, hours: 3600,
  d: 86400, day: 86400, days: 86400,
  w: 604800, week: 604800, weeks: 604800,
};

/** "30 seconds", "1 minute", "2h", "90" (seconds) to seconds. */
export function parseDuration(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  if (!m) return undefined;
  const unit = (m[2] ?? "").toLowerCase();
  const scale = unit === "" ? 1 : UNIT_SECONDS[unit];
  return scale === undefined ? undefined : Number(m[1]) * scale;
}

/** Converts text to a declared type; the error names `what` and the type expected. */
export function convert(text: string, type: ValueType, what: string): Result<unknown> {
  const bad = (expected: string) => fail<unknown>("bad_option", `${what} expects ${expected}, got '${text}'`);
  switch (type) {
    case "str":
    case "any":
      return ok(text);
    case "int":
      return /^\s*-?\d+\s*$/.test(text) ? ok(Number.parseInt(text, 10)) : bad("a whole number");
    case "float":
      return text.trim() !== "" && !Number.isNaN(Number(text)) ? ok(Number(text)) : bad("a number");
    case "bool": {
      const b = toBool(text);
      return b === undefined ? bad("true or false") : ok(b);
    }
    case "duration": {
      const d = parseDuration(text);
      return d === undefined ? bad("a time such as '30 seconds', '1 minute' or '2 hours'") : ok(d);
    }
    case "ipport": {
      const m = /^\s*([^\s:]+|\[[^\]]+\]):(\d{1,5})\s*$/.exec(text);
      const port = m ? Number(m[2]) : 0;
      return m && port > 0 && port < 65536 ? ok(`${m[1]}:${port}`) : bad("host:port");
    }
    case "list":
      return ok(text.split(",").map((s) => s.trim()).filter((s) => s !== ""));
    case "json": {
      try {
        return ok(JSON.parse(text));
      } catch {
        return bad("a JSON object");
      }
    }
    case "nested":
      return bad("(name = value and ...)");
  }
}

function bindValue(tokens: Token[], spec: { type: ValueType }, scope: Scope, what: string): Result<unknown> {
  const only = tokens.length === 1 ? tokens[0]! : undefined;
  if (only?.kind === "group" && (spec.type === "list" || spec.type === "any")) {
    const items: string[] = [];
    let current: Token[] = [];
    for (const t of [...only.items, { kind: "op", text: ",", pos: -1 } as Token]) {
      if (t.kind === "op" && t.text === ",") {
        if (current.length > 0) {
          const v = tokensToText(current, scope);
          if (!v.ok) return v;
          items.push(v.value);
        }
        current = [];
      } else current.push(t);
    }
    return ok(items);
  }
  if (only?.kind === "json" && (spec.type === "json" || spec.type === "any")) return substituteJson(only.raw, scope);
  const text = tokensToText(tokens, scope);
  if (!text.ok) return text;
  return convert(text.value, spec.type, what);
}

function bindOptions(
  raw: RawOption[],
  lookup: (key: string) => OptionSpec,
  scope: Scope,
  commandName: string,
): Result<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const o of raw) {
    const spec = lookup(o.key);
    let value: Result<unknown>;
    if (o.nested) {
      const inner = spec.options ?? {};
      const patterns = spec.patterns ?? [];
      value = bindOptions(
        o.nested,
        (k) => inner[k] ?? patterns.find((p) => k.startsWith(p.prefix))?.spec ?? { type: "any", help: "" },
        scope,
        `${commandName} ${o.key}`,
      );
    } else {
      value = bindValue(o.tokens, spec, scope, `'${commandName}' option '${o.key}'`);
    }
    if (!value.ok) return value;
    if (spec.multiple || spec.type === "nested") {
      const prev = out[o.key];
      out[o.key] = prev === undefined ? (spec.multiple ? [value.value] : value.value) : [prev, value.value].flat();
    } else out[o.key] = value.value;
  }
  return ok(out);
}

/** Binds a parsed call: every value substituted and typed, ready for the handler. */
export function bindCall(call: CommandCall, scope: Scope): Result<Args> {
  const spec = call.spec;
  const name = spec.words.join(" ");
  const positional: Record<string, unknown> = {};
  for (const p of spec.positional ?? []) {
    const tokens = call.positional[p.name];
    if (!tokens) continue;
    const v = bindPositional(tokens, p, scope, name);
    if (!v.ok) return v;
    positional[p.name] = v.value;
  }
  const options = bindOptions(
    call.options,
    (k) =>
      spec.options?.[k] ??
      spec.patterns?.find((p) => k.startsWith(p.prefix))?.spec ?? { type: "any", help: "", multiple: true },
    scope,
    name,
  );
  if (!options.ok) return options;
  let tail = call.tail;
  if (tail !== undefined && spec.tail?.substitute) {
    const s = substituteOutsideQuotes(tail, scope);
    if (!s.ok) return s;
    tail = s.value;
  }
  return ok(new Args(positional, options.value, tail));
}

function bindPositional(tokens: Token[], p: PositionalSpec, scope: Scope, name: string): Result<unknown> {
  const what = `'${name}' argument <${p.name}>`;
  if (p.rest && p.type === "list") {
    const items: string[] = [];
    for (const t of tokens) {
      const v = bindValue([t], p, scope, what);
      if (!v.ok) return v;
      items.push(...(Array.isArray(v.value) ? v.value.map(String) : [String(v.value)]));
    }
    return ok(items);
  }
  return bindValue(tokens, p, scope, what);
}

