/**
 * @module query/reply
 * The reply shapes of a query (INTERFACE §3, AnyLog's `format` option):
 *   json (default)  {"Query":[{...}, ...], "Statistics":[{"Count":N,"Time":"HH:MM:SS","Nodes":N}]}
 *   table           the rows as a text table, then the Statistics line
 *   json:list       the rows as a list of objects
 *   json:output     one JSON object per line, as data is loaded
 * `stat = false` drops Statistics; the two row-only forms never carry them.
 */
import type { Reply } from "../commands/spec.ts";
import { type Result, fail, ok } from "../util/result.ts";
import { textTable } from "../util/text-table.ts";

/** A query's answer, ready to be shown. */
export interface QueryAnswer {
  columns: string[];
  rows: unknown[][];
  /** Milliseconds from receiving the query to having its rows. */
  elapsedMs: number;
  /** How many nodes answered (1 for a local query). */
  nodes: number;
}

export const FORMATS = ["json", "table", "json:list", "json:output"] as const;
export type Format = (typeof FORMATS)[number];

export function formatOf(name: string | undefined): Result<Format> {
  const f = (name ?? "json").toLowerCase();
  return (FORMATS as readonly string[]).includes(f) ? ok(f as Format) : fail("bad_option", `format '${name}' is not one of ${FORMATS.join(", ")}`);
}

/** Elapsed time as HH:MM:SS (whole seconds; hours go past 24). */
export function hhmmss(ms: number): string {
  const s = Math.floor(ms / 1000);
  const two = (n: number) => String(n).padStart(2, "0");
  return `${two(Math.floor(s / 3600))}:${two(Math.floor(s / 60) % 60)}:${two(s % 60)}`;
}

export function statistics(a: QueryAnswer): { Statistics: Array<{ Count: number; Time: string; Nodes: number }> } {
  return { Statistics: [{ Count: a.rows.length, Time: hhmmss(a.elapsedMs), Nodes: a.nodes }] };
}

function objects(a: QueryAnswer): Array<Record<string, unknown>> {
  return a.rows.map((r) => Object.fromEntries(a.columns.map((c, i) => [c, r[i] ?? null])));
}

const cell = (v: unknown) => (v !== null && typeof v === "object" ? JSON.stringify(v) : (v as string | number | boolean | null | undefined));

/** The reply for `answer` in `format`, with or without Statistics. */
export function queryReply(a: QueryAnswer, format: Format, stat: boolean): Reply {
  switch (format) {
    case "json":
      return stat ? { Query: objects(a), ...statistics(a) } : { Query: objects(a) };
    case "json:list":
      return objects(a);
    case "json:output":
      return objects(a).map((o) => JSON.stringify(o)).join("\n");
    case "table": {
      const table = textTable(a.columns, a.rows.map((r) => a.columns.map((_, i) => cell(r[i]))));
      return stat ? `${table}\n\n${JSON.stringify(statistics(a))}` : table;
    }
  }
}
