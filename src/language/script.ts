/**
 * @module language/script
 * Reading a script: lines to statements with their line numbers. Joins `<...>` blocks that
 * span lines and lines that continue a where-clause with `and`, drops `#` comments and
 * pasted prompts (`AL node +> `), and groups `if <cond> { ... } else { ... }` blocks.
 */
import { type Result, fail, ok } from "../util/result.ts";
import type { Condition } from "./ast.ts";
import { parseCondition } from "./parser.ts";
import { stripComment, tokenize } from "./tokens.ts";

export type ScriptItem =
  | { kind: "line"; text: string; line: number }
  | { kind: "block"; condition: Condition; line: number; then: ScriptItem[]; otherwise: ScriptItem[] };

const PROMPT = /^\s*AL(?:\s+[\w.@:-]+)?\s*\+?>\s?/;

/** Splits script text into logical lines (blocks joined, comments and prompts removed). */
export function logicalLines(text: string): Result<Array<{ text: string; line: number }>> {
  const raw = text.split(/\r?\n/);
  const out: Array<{ text: string; line: number }> = [];
  for (let i = 0; i < raw.length; i++) {
    const line = stripComment(raw[i]!.replace(PROMPT, "")).trim();
    if (line === "") continue;
    if (line.startsWith("<")) {
      const start = i;
      const parts: string[] = [];
      let current = line.slice(1);
      for (;;) {
        const closed = current.trimEnd().endsWith(">");
        parts.push(closed ? current.trimEnd().slice(0, -1) : current);
        if (closed) break;
        i++;
        if (i >= raw.length) return fail("syntax", `line ${start + 1}: the '<' block opened here is never closed with '>'`);
        current = stripComment(raw[i]!).trim();
      }
      out.push({ text: parts.map((p) => p.trim()).filter((p) => p !== "").join(" "), line: start + 1 });
      continue;
    }
    const prev = out[out.length - 1];
    if (prev && /^and\s/i.test(line) && !/[{}]\s*$/.test(prev.text)) {
      prev.text = `${prev.text} ${line}`;
      continue;
    }
    out.push({ text: line, line: i + 1 });
  }
  return ok(out);
}

const BLOCK_IF = /^if\s+(.*?)\s*\{$/i;
const ELSE = /^\}\s*else\s*\{$/i;

/** Reads a whole script: logical lines, with `if ... { } else { }` blocks grouped. */
export function readScript(text: string): Result<ScriptItem[]> {
  const lines = logicalLines(text);
  if (!lines.ok) return lines;
  let at = 0;
  const list = lines.value;

  function items(inBlock: boolean): Result<{ items: ScriptItem[]; end: "else" | "close" | "eof" }> {
    const acc: ScriptItem[] = [];
    while (at < list.length) {
      const { text: t, line } = list[at]!;
      at++;
      const open = BLOCK_IF.exec(t);
      if (open) {
        const cond = blockCondition(open[1]!, line);
        if (!cond.ok) return cond;
        const thenPart = items(true);
        if (!thenPart.ok) return thenPart;
        let otherwise: ScriptItem[] = [];
        if (thenPart.value.end === "else") {
          const elsePart = items(true);
          if (!elsePart.ok) return elsePart;
          if (elsePart.value.end !== "close") return fail("syntax", `line ${line}: the 'else {' block is never closed with '}'`);
          otherwise = elsePart.value.items;
        } else if (thenPart.value.end !== "close") {
          return fail("syntax", `line ${line}: the 'if ... {' block is never closed with '}'`);
        }
        acc.push({ kind: "block", condition: cond.value, line, then: thenPart.value.items, otherwise });
        continue;
      }
      if (inBlock && ELSE.test(t)) return ok({ items: acc, end: "else" });
      if (inBlock && t === "}") return ok({ items: acc, end: "close" });
      acc.push({ kind: "line", text: t, line });
    }
    return ok({ items: acc, end: "eof" });
  }

  const top = items(false);
  if (!top.ok) return top;
  return ok(top.value.items);
}

/** The condition of `if (cond) {`; tolerates the unbalanced parenthesis some documents have. */
function blockCondition(text: string, line: number): Result<Condition> {
  let t = text.trim();
  const opens = (t.match(/\(/g) ?? []).length;
  const closes = (t.match(/\)/g) ?? []).length;
  if (opens !== closes) t = t.replace(/[()]/g, " ");
  const tokens = tokenize(t);
  if (!tokens.ok) return fail("syntax", `line ${line}: ${tokens.error.message}`);
  const cond = parseCondition(tokens.value);
  if (!cond.ok) return fail("syntax", `line ${line}: ${cond.error.message}`);
  return cond;
}
