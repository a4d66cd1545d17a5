/**
 * @module query/reply
 * The reply shapes of a query (INTERFACE §3, AnyLog's `format` option):
 *   json (default)  {"Query":[{...}, ...], "Statistics":[{"Count":N,"Time":"HH:MM:SS","Nodes":N}]}
 *   table           the rows as a text table, then the Statistics line
 *   json:list       the rows as a list of objects
 *   json:output     one JSON object per line, as data is loaded
 * `stat = false` drops Statistics; the two row-only forms never carry them.
 * An answer too large to hold whole (it has `more` pages) is a `StreamedReply`: the same
 * text, made a page at a time as the front end sends it (REST streams it, a peer sends it
 * in pages); a front end that cannot stream holds it whole, up to `max_volume`.
 */
import type { Reply } from "../commands/spec.ts";
import { type Result, fail, ok } from "../util/result.ts";
import { cellTexts, columnWidths, tableHead, tableRows, textTable } from "../util/text-table.ts";
import { rowBytes } from "../storage/database.ts";
import { movedBytes } from "../util/garbage.ts";

/** A query's answer, ready to be shown. */
export interface QueryAnswer {
  columns: string[];
  rows: unknown[][];
  /** Milliseconds from receiving the query to having its rows. */
  elapsedMs: number;
  /** How many nodes answered (1 for a local query). */
  nodes: number;
  /** The rows after `rows`, a page at a time, when the answer is too large to hold whole. */
  more?: RowPages;
  /** More entries of Statistics (a network query's participating nodes). */
  statistics?: Record<string, unknown>;
}

/** An answer past this many bytes of values is not held whole: it streams, when its asker takes it so. */
export const HELD_BYTES = 1024 * 1024;

/** Pages of rows; an error is the last item; `return()` stops reading them and frees what they hold. */
export type RowPages = AsyncGenerator<Result<unknown[][]>, void, void>;

/** `pages` with each page's rows made by `show` (times shown in a zone, columns added); ending early ends `pages`. */
export async function* mapPages<T>(pages: AsyncGenerator<Result<T>, void, void>, show: (page: T) => unknown[][]): RowPages {
  try {
    for await (const page of pages) yield page.ok ? ok(show(page.value)) : page;
  } finally {
    await pages.return();
  }
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

export function statistics(a: Pick<QueryAnswer, "elapsedMs" | "nodes" | "statistics">, count: number): { Statistics: Array<Record<string, unknown>> } {
  return { Statistics: [{ Count: count, Time: hhmmss(a.elapsedMs), Nodes: a.nodes, ...a.statistics }] };
}

function objects(a: QueryAnswer): Array<Record<string, unknown>> {
  return a.rows.map((r) => Object.fromEntries(a.columns.map((c, i) => [c, r[i] ?? null])));
}

const cell = (v: unknown) => (v !== null && typeof v === "object" ? JSON.stringify(v) : (v as string | number | boolean | null | undefined));

/** The reply for `answer` in `format`, with or without Statistics. */
export function queryReply(a: QueryAnswer, format: Format, stat: boolean): Reply {
  if (a.more) return new StreamedReply(a, format, stat, a.more);
  switch (format) {
    case "json":
      return stat ? { Query: objects(a), ...statistics(a, a.rows.length) } : { Query: objects(a) };
    case "json:list":
      return objects(a);
    case "json:output":
      return objects(a).map((o) => JSON.stringify(o)).join("\n");
    case "table": {
      const table = textTable(a.columns, a.rows.map((r) => a.columns.map((_, i) => cell(r[i]))));
      return stat ? `${table}\n\n${JSON.stringify(statistics(a, a.rows.length))}` : table;
    }
  }
}

/**
 * A query's reply made a page at a time: `text()` gives the same text `queryReply` would for
 * the whole answer (a table's widths are set by its first page), `pages()` the rows (a peer
 * sends them so), `whole()` the reply held whole. Whoever takes it calls one of them once;
 * ending early, or `close()`, stops the query that feeds it.
 */
export class StreamedReply {
  private readonly started: number;
  constructor(
    private readonly answer: QueryAnswer,
    readonly format: Format,
    readonly stat: boolean,
    private readonly more: RowPages,
  ) {
    this.started = performance.now() - answer.elapsedMs;
  }

  get columns(): string[] {
    return this.answer.columns;
  }

  get contentType(): string {
    return this.format === "json" || this.format === "json:list" ? "application/json" : "text/plain; charset=UTF-8";
  }

  /** The rows, page after page (the first is the answer's own rows); an error ends them. */
  async *pages(): RowPages {
    try {
      yield ok(this.answer.rows);
      yield* this.more;
    } finally {
      await this.more.return();
    }
  }

  /** The reply's text in pieces; a failure part-way throws (the receiver must not take a cut reply for a whole one). */
  async *text(): AsyncGenerator<string, void, void> {
    const { columns } = this.answer;
    const json = (rows: unknown[][]) => rows.map((r) => JSON.stringify(Object.fromEntries(columns.map((c, i) => [c, r[i] ?? null]))));
    let count = 0;
    let widths: number[] | undefined;
    let first = true;
    for await (const page of this.pages()) {
      if (!page.ok) throw new Error(page.error.message);
      const rows = page.value;
      if (this.format === "table") {
        const cells = cellTexts(columns.length, rows.map((r) => r.map(cell)));
        widths ??= columnWidths(columns, cells);
        yield `${first ? tableHead(columns, widths) : ""}${cells.length > 0 ? `\n${tableRows(cells, widths)}` : ""}`;
      } else {
        const joiner = this.format === "json:output" ? "\n" : ",";
        const opener = !first ? "" : this.format === "json" ? '{"Query":[' : this.format === "json:list" ? "[" : "";
        yield `${opener}${count > 0 && rows.length > 0 ? joiner : ""}${json(rows).join(joiner)}`;
      }
      count += rows.length;
      first = false;
      movedBytes(rows.length * columns.length * 16);
    }
    const stats = JSON.stringify(statistics({ ...this.answer, elapsedMs: performance.now() - this.started }, count));
    if (this.format === "json") yield this.stat ? `],${stats.slice(1)}` : "]}";
    else if (this.format === "json:list") yield "]";
    else if (this.format === "table" && this.stat) yield `\n\n${stats}`;
  }

  /** The reply held whole, as `queryReply` makes it; an error past `maxBytes` of rows (the query stopped). */
  async whole(maxBytes: number): Promise<Result<Reply>> {
    const rows: unknown[][] = [];
    let bytes = 0;
    for await (const page of this.pages()) {
      if (!page.ok) return page;
      for (const row of page.value) {
        bytes += rowBytes(row);
        if (bytes > maxBytes) return fail("bad_value", `the result is larger than ${maxBytes} bytes (max_volume): ask for fewer rows or columns`);
        rows.push(row);
      }
    }
    return ok(queryReply({ ...this.answer, rows, more: undefined, elapsedMs: performance.now() - this.started }, this.format, this.stat));
  }

  /** Stops the query without reading the rest. */
  async close(): Promise<void> {
    await this.more.return();
  }
}
