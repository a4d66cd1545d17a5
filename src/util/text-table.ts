/**
 * @module util/text-table
 * Text tables in the AnyLog console style (header, dashed rule with `|`, padded columns).
 */

/** Renders rows under headers; every cell is padded to its column's width. */
export function textTable(headers: string[], rows: Array<Array<string | number | boolean | null | undefined>>): string {
  const cells = rows.map((r) => headers.map((_, i) => (r[i] === null || r[i] === undefined ? "" : String(r[i]))));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]!.length)));
  const line = (r: string[]) => `${r.map((c, i) => c.padEnd(widths[i]!)).join("|")}|`;
  const head = headers.map((h, i) => h.padEnd(widths[i]! + 1)).join("");
  const rule = `${widths.map((w) => "-".repeat(w)).join("|")}|`;
  return [head.trimEnd(), rule, ...cells.map(line)].map((l) => `    ${l}`).join("\n");
}
