/**
 * @module metadata/bring
 * The `bring` part of `blockchain get`: which policies (`.first`, `.last`), which values
 * (`[operator][ip]`, `[*][id]`, `[]` for the whole policy, quoted text in between) and in
 * what form (text with a `separator`, `.json`, `.table`, `.count`, `.ip_port`, `.unique`,
 * `.min`, `.max`). Without `bring` the policies themselves are the reply.
 */
import type { Reply } from "../commands/spec.ts";
import { tokenize } from "../language/tokens.ts";
import { type Result, fail, ok } from "../util/result.ts";
import { textTable } from "../util/text-table.ts";
import { type Policy, body, policyType } from "./policy.ts";

type Item = { kind: "path"; keys: string[]; label: string } | { kind: "text"; text: string };

export interface Bring {
  modifiers: Set<string>;
  items: Item[];
  separator: string;
}

const MODIFIERS = new Set(["first", "last", "recent", "unique", "json", "table", "count", "ip_port", "null", "min", "max", "list", "sort"]);

/** Parses `bring.first [cluster][id]`, `bring [a][b] ":" [a][c] separator = ,` ... */
export function parseBring(text: string): Result<Bring> {
  const tokens = tokenize(text);
  if (!tokens.ok) return tokens;
  const [head, ...rest] = tokens.value;
  if (head?.kind !== "word" || !/^bring(\.|$)/i.test(head.text)) return fail("syntax", `expected 'bring', found '${text}'`);
  const modifiers = new Set(head.text.toLowerCase().split(".").slice(1));
  for (const m of modifiers) {
    if (!MODIFIERS.has(m)) return fail("syntax", `'bring.${m}' is not a bring form; known: ${[...MODIFIERS].join(", ")}`);
  }
  const items: Item[] = [];
  let separator = "";
  for (let i = 0; i < rest.length; i++) {
    const t = rest[i]!;
    if (t.kind === "word" && t.text.toLowerCase() === "separator" && rest[i + 1]?.kind === "op") {
      const v = rest[i + 2];
      separator = v?.kind === "string" || v?.kind === "word" || v?.kind === "op" ? v.text : "";
      separator = separator.replace(/\\n/g, "\n").replace(/\\t/g, "\t");
      i += 2;
      continue;
    }
    if (t.kind === "path") {
      const keys = [...t.raw.matchAll(/\[([^\]]*)\]/g)].map((m) => m[1]!.trim().replace(/^['"]|['"]$/g, ""));
      items.push({ kind: "path", keys, label: keys[keys.length - 1] || "policy" });
    } else if (t.kind === "string") items.push({ kind: "text", text: t.text });
    else if (t.kind === "word" && t.text === "\\n") items.push({ kind: "text", text: "\n" });
    else if (t.kind === "word" || t.kind === "op") items.push({ kind: "text", text: t.text });
    else return fail("syntax", `'bring' cannot use '${t.kind === "group" || t.kind === "json" ? t.raw : ""}'`);
  }
  return ok({ modifiers, items, separator });
}

function valueAt(p: Policy, keys: string[]): unknown {
  if (keys.length === 0 || (keys.length === 1 && keys[0] === "")) return p;
  const type = policyType(p);
  let v: unknown = p;
  for (const [i, k] of keys.entries()) {
    const key = i === 0 && k === "*" ? type : k;
    if (typeof v !== "object" || v === null) return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

const asText = (v: unknown) => (v === undefined || v === null ? "" : typeof v === "object" ? JSON.stringify(v) : String(v));

/** The address peers reach a node at, from its policy. */
export function ipPort(p: Policy): string | undefined {
  const b = body(p);
  const ip = b.ip ?? b.external_ip ?? b.local_ip ?? b.internal_ip;
  return ip !== undefined && b.port !== undefined ? `${String(ip)}:${String(b.port)}` : undefined;
}

/** Applies a bring to the selected policies (in ledger order). */
export function applyBring(selected: Policy[], bring: Bring | undefined): Reply {
  let policies = selected;
  if (bring?.modifiers.has("first")) policies = policies.slice(0, 1);
  if (bring?.modifiers.has("last") || bring?.modifiers.has("recent")) policies = policies.slice(-1);
  if (!bring) return policies;
  const m = bring.modifiers;
  const unique = <T>(list: T[], key: (x: T) => string) => {
    if (!m.has("unique")) return list;
    const seen = new Set<string>();
    return list.filter((x) => (seen.has(key(x)) ? false : (seen.add(key(x)), true)));
  };
  if (m.has("count")) return policies.length;
  if (m.has("ip_port")) {
    return [...new Set(policies.map(ipPort).filter((x): x is string => x !== undefined))].join(",");
  }
  const paths = bring.items.filter((i): i is Extract<Item, { kind: "path" }> => i.kind === "path");
  if (bring.items.length === 0) return policies;
  if (m.has("min") || m.has("max")) {
    const nums = policies.map((p) => Number(valueAt(p, paths[0]?.keys ?? []))).filter((n) => !Number.isNaN(n));
    if (nums.length === 0) return "";
    return m.has("min") ? Math.min(...nums) : Math.max(...nums);
  }
  if (m.has("json") || m.has("list")) {
    const rows = policies.map((p) => {
      const o: Record<string, unknown> = {};
      for (const path of paths) {
        const v = valueAt(p, path.keys);
        if (v !== undefined || m.has("null")) o[path.label] = v ?? "";
      }
      return o;
    });
    return unique(rows, (r) => JSON.stringify(r));
  }
  if (m.has("table")) {
    let rows = policies.map((p) => paths.map((path) => asText(valueAt(p, path.keys))));
    rows = unique(rows, (r) => r.join("\u0000"));
    if (m.has("sort")) rows.sort((a, b) => a.join("\u0000").localeCompare(b.join("\u0000")));
    return textTable(paths.map((p) => p.label), rows);
  }
  const texts = unique(
    policies.map((p) => bring.items.map((i) => (i.kind === "text" ? i.text : asText(valueAt(p, i.keys)))).join("")),
    (s) => s,
  );
  return texts.join(bring.separator);
}
