/**
 * @module query/statement
 * What a `sql` command's statement is, read from its text before anything runs: exactly one
 * statement, and one that only reads (SELECT, WITH ... SELECT, EXPLAIN, VALUES, TABLE). The
 * engines refuse writes on their own as well (storage `read`); this check is what names the
 * refused statement kind to the user.
 */
import { type Result, fail, ok } from "../util/result.ts";

const READS = new Set(["select", "with", "explain", "values", "table"]);
/** Words that start a statement which changes data, schema or the connection. */
const CHANGES = new Set([
  "insert", "update", "delete", "merge", "replace", "upsert", "create", "drop", "alter", "truncate", "rename",
  "grant", "revoke", "vacuum", "analyze", "reindex", "cluster", "refresh", "comment", "copy", "call", "do",
  "attach", "detach", "pragma", "begin", "start", "commit", "end", "rollback", "abort", "savepoint", "release",
  "set", "reset", "discard", "lock", "listen", "unlisten", "notify", "prepare", "execute", "deallocate", "load",
  "import", "security",
]);
const USAGE = "'sql' runs only queries (SELECT, WITH, EXPLAIN)";

/**
 * The text with comments, quoted text and quoted names blanked to spaces (same length, so a
 * position in one is the same position in the other).
 */
export function blankQuoted(sql: string): string {
  const out = sql.split("");
  const blank = (from: number, to: number) => {
    for (let k = from; k < to && k < out.length; k++) out[k] = " ";
  };
  let i = 0;
  while (i < sql.length) {
    const c = sql[i]!;
    const next = sql[i + 1];
    let end = -1;
    if (c === "-" && next === "-") {
      end = sql.indexOf("\n", i);
      if (end < 0) end = sql.length;
    } else if (c === "/" && next === "*") {
      end = sql.indexOf("*/", i + 2);
      end = end < 0 ? sql.length : end + 2;
    } else if (c === "'" || c === '"' || c === "`") {
      end = i + 1;
      while (end < sql.length) {
        if (sql[end] === c) {
          if (sql[end + 1] === c) end += 2; // a doubled quote stands for itself
          else break;
        } else end++;
      }
      end = Math.min(end + 1, sql.length);
    } else if (c === "$") {
      const tag = /^\$([A-Za-z_]\w*)?\$/.exec(sql.slice(i)); // PostgreSQL dollar quoting, not $1
      if (tag) {
        const close = sql.indexOf(tag[0], i + tag[0].length);
        end = close < 0 ? sql.length : close + tag[0].length;
      }
    }
    if (end > i) {
      blank(i, end);
      i = end;
    } else i++;
  }
  return out.join("");
}

export interface Statement {
  /** The statement kind in upper case (SELECT, WITH, EXPLAIN, ...). */
  kind: string;
  /** The statement without a trailing `;`. */
  text: string;
  /** The first table after FROM, when there is one (for `extend = (@table)`). */
  table?: string;
}

/** The one reading statement in `sql`, or a `bad_value` error that names what it is instead. */
export function readStatement(sql: string): Result<Statement> {
  const code = blankQuoted(sql);
  const parts: Array<[number, number]> = [];
  let start = 0;
  for (let i = 0; i <= code.length; i++) {
    if (i === code.length || code[i] === ";") {
      if (code.slice(start, i).trim() !== "") parts.push([start, i]);
      start = i + 1;
    }
  }
  if (parts.length === 0) return fail("bad_value", `${USAGE}: the query is empty`);
  if (parts.length > 1) return fail("bad_value", `${USAGE}, one statement at a time: this text has ${parts.length}`);
  const [from, to] = parts[0]!;
  const body = code.slice(from, to);
  const first = /^[\s(]*([A-Za-z_]+)/.exec(body)?.[1]?.toLowerCase();
  if (!first) return fail("bad_value", `${USAGE}: '${sql.trim().slice(0, 40)}' does not start with a statement keyword`);
  if (!READS.has(first)) {
    if (CHANGES.has(first)) return fail("bad_value", `${USAGE}, not ${first.toUpperCase()} (it can change the database or the connection)`);
    return fail("bad_value", `${USAGE}: '${first}' does not start a query`);
  }
  // WITH and EXPLAIN carry another statement; SELECT ... INTO creates a table (PostgreSQL).
  const carried = first === "with" || first === "explain" ? /\b(insert|update|delete|merge)\b/i.exec(body)?.[1] : undefined;
  if (carried) return fail("bad_value", `${USAGE}, not ${first.toUpperCase()} ... ${carried.toUpperCase()} (it changes data)`);
  if (first !== "values" && first !== "table" && /\binto\b/i.test(body)) return fail("bad_value", `${USAGE}, not SELECT INTO (it creates a table)`);
  const text = sql.slice(from, to).trim();
  const fromAt = /\bfrom\b/i.exec(body); // in the blanked text, so a quoted name is blank there
  let table: string | undefined;
  if (fromAt) {
    const rest = sql.slice(from + fromAt.index + 4);
    table = /^\s+("[^"]+"|[A-Za-z_][\w.]*)/.exec(rest)?.[1]?.replace(/"/g, "");
  }
  return ok({ kind: first.toUpperCase(), text, table });
}
