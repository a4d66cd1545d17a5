/**
 * @module language/tokens
 * The tokenizer of the command language: one line of text to a list of tokens.
 * Words, quoted strings, operators, `( ... )` groups (tokenized recursively), `{ ... }` JSON
 * kept as raw text, `[a][b]` JSON paths, and `#` comments (dropped). Never throws: a line
 * that cannot be tokenized gives a `syntax` error naming the column.
 */
import { type Result, fail, ok } from "../util/result.ts";

export type Token =
  | { kind: "word"; text: string; pos: number }
  | { kind: "string"; text: string; quote: '"' | "'"; pos: number }
  | { kind: "op"; text: Operator; pos: number }
  | { kind: "group"; items: Token[]; raw: string; pos: number }
  | { kind: "json"; raw: string; pos: number }
  | { kind: "path"; raw: string; pos: number };

export type Operator = "=" | "==" | "!=" | "<" | ">" | "<=" | ">=" | ",";

const WORD_STOP = new Set([" ", "\t", "\r", "\n", '"', "'", "=", "(", ")", ",", "{", "}", "[", "]"]);

/** Parentheses nested deeper than this are refused (no script needs more; recursion stays bounded). */
export const MAX_NESTING = 32;

/** Tokenizes `text`. `base` is added to every position (for tokens of a nested group). */
export function tokenize(text: string, base = 0, depth = 0): Result<Token[]> {
  if (depth > MAX_NESTING) return fail("syntax", `parentheses nested more than ${MAX_NESTING} deep at column ${base}`);
  const tokens: Token[] = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i]!;
    if (c === " " || c === "\t" || c === "\r" || c === "\n") {
      i++;
      continue;
    }
    const pos = base + i;
    if (c === "#") break; // a comment runs to the end of the line
    if (c === '"' || c === "'") {
      const end = closingQuote(text, i);
      if (end < 0) return fail("syntax", `unterminated ${c} string starting at column ${pos + 1}`);
      tokens.push({ kind: "string", text: unescape(text.slice(i + 1, end), c), quote: c, pos });
      i = end + 1;
      continue;
    }
    if (c === "(") {
      const end = closingBracket(text, i, "(", ")");
      if (end < 0) return fail("syntax", `'(' at column ${pos + 1} is never closed`);
      const inner = tokenize(text.slice(i + 1, end), pos + 1, depth + 1);
      if (!inner.ok) return inner;
      tokens.push({ kind: "group", items: inner.value, raw: text.slice(i, end + 1), pos });
      i = end + 1;
      continue;
    }
    if (c === "{") {
      const end = closingBracket(text, i, "{", "}");
      if (end < 0) return fail("syntax", `'{' at column ${pos + 1} is never closed`);
      tokens.push({ kind: "json", raw: text.slice(i, end + 1), pos });
      i = end + 1;
      continue;
    }
    if (c === "[") {
      let j = i;
      while (j < n && text[j] === "[") {
        const end = text.indexOf("]", j);
        if (end < 0) return fail("syntax", `'[' at column ${base + j + 1} is never closed`);
        j = end + 1;
      }
      tokens.push({ kind: "path", raw: text.slice(i, j), pos });
      i = j;
      continue;
    }
    if (c === ")" || c === "}" || c === "]") return fail("syntax", `unexpected '${c}' at column ${pos + 1}`);
    const two = text.slice(i, i + 2);
    if (two === "==" || two === "!=" || two === "<=" || two === ">=") {
      tokens.push({ kind: "op", text: two, pos });
      i += 2;
      continue;
    }
    if (c === "=" || c === ",") {
      tokens.push({ kind: "op", text: c, pos });
      i++;
      continue;
    }
    if ((c === "<" || c === ">") && (i + 1 >= n || text[i + 1] === " ")) {
      tokens.push({ kind: "op", text: c, pos });
      i++;
      continue;
    }
    let j = i;
    while (j < n && !WORD_STOP.has(text[j]!)) {
      if (text[j] === "!" && text[j + 1] === "=" && j > i) break; // `a!=b`
      j++;
    }
    tokens.push({ kind: "word", text: text.slice(i, j), pos });
    i = j;
  }
  return ok(tokens);
}

function closingQuote(text: string, start: number): number {
  const q = text[start];
  for (let i = start + 1; i < text.length; i++) {
    if (text[i] === "\\") i++;
    else if (text[i] === q) return i;
  }
  return -1;
}

/** Index of the bracket closing the one at `start`, skipping quoted strings. */
export function closingBracket(text: string, start: number, open: string, close: string): number {
  let depth = 0;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (c === '"' || c === "'") {
      const end = closingQuote(text, i);
      if (end < 0) return -1;
      i = end;
    } else if (c === open) depth++;
    else if (c === close && --depth === 0) return i;
  }
  return -1;
}

/** The text inside quotes as meant: `\<quote>` and `\\` stand for the character itself. */
export function unescape(s: string, quote: string): string {
  return s.replace(/\\(.)/g, (_, ch: string) => (ch === quote || ch === "\\" ? ch : `\\${ch}`));
}

/** The source text of a token, as the user wrote it. */
export function tokenText(t: Token): string {
  switch (t.kind) {
    case "word":
    case "op":
      return t.text;
    case "string":
      return `${t.quote}${t.text}${t.quote}`;
    case "group":
    case "json":
    case "path":
      return t.raw;
  }
}

export const isWord = (t: Token | undefined, word?: string): t is Extract<Token, { kind: "word" }> =>
  t?.kind === "word" && (word === undefined || t.text.toLowerCase() === word);

export const isOp = (t: Token | undefined, op?: Operator): t is Extract<Token, { kind: "op" }> =>
  t?.kind === "op" && (op === undefined || t.text === op);

/** Removes a trailing `# comment` from a line, leaving `#` inside quotes and JSON alone. */
export function stripComment(line: string): string {
  let depth = 0;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '"' || c === "'") {
      const end = closingQuote(line, i);
      if (end < 0) return line;
      i = end;
    } else if (c === "{") depth++;
    else if (c === "}") depth--;
    else if (c === "#" && depth <= 0 && (i === 0 || /\s/.test(line[i - 1]!))) return line.slice(0, i).trimEnd();
  }
  return line;
}
