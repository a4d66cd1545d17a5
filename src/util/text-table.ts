/**
 * @module util/text-table
 * Text tables in the AnyLog console style (header, dashed rule with `|`, padded columns),
 * whole or, for a long result, a page at a time under widths set by its first page.
 */

type Cell = string | number | boolean | null | undefined;

/** Rows as the text of their cells. */
export function cellTexts(width: number, rows: Cell[][]): string[][] {
  return rows.map((r) => Array.from({ length: width }, (_, i) => (r[i] === null || r[i] === undefined ? "" : String(r[i]))));
}

/** Each column's width: its widest cell or header. */
export function columnWidths(headers: string[], cells: string[][]): number[] {
  const widths = headers.map((h) => h.length);
  for (const r of cells) for (let i = 0; i < widths.length; i++) widths[i] = Math.max(widths[i]!, r[i]!.length);
  return widths;
}

/** The header and its rule. */
export function tableHead(headers: string[], widths: number[]): string {
  const head = headers.map((h, i) => h.padEnd(widths[i]! + 1)).join("");
  const rule = `${widths.map((w) => "-".repeat(w)).join("|")}|`;
  return `    ${head.trimEnd()}\n    ${rule}`;
}

/** Rows of cells, each padded to its column's width (a longer cell pushes the row's later cells along). */
export function tableRows(cells: string[][], widths: number[]): string {
  return cells.map((r) => `    ${r.map((c, i) => c.padEnd(widths[i]!)).join("|")}|`).join("\n");
}

/** Renders rows under headers; every cell is padded to its column's width. */
export function textTable(headers: string[], rows: Cell[][]): string {
  const cells = cellTexts(headers.length, rows);
  const widths = columnWidths(headers, cells);
  return cells.length === 0 ? tableHead(headers, widths) : `${tableHead(headers, widths)}\n${tableRows(cells, widths)}`;
}
