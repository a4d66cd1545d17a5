/**
 * @module query/network/query-log
 * The network queries a node asked, as AnyLog's `query` commands show them: the last
 * queries with their operators, each operator's state and rows (`query status`), the SQL each
 * side ran (`query explain`), and a histogram of their times (`get queries time`,
 * `reset query timer`).
 */
import { addCommands } from "../../commands/table.ts";
import { command } from "../../commands/spec.ts";
import { nodeSlot } from "../../node/slot.ts";
import { type Result, fail, ok } from "../../util/result.ts";
import { textTable } from "../../util/text-table.ts";

export interface OperatorState {
  address: string;
  status: "sent" | "replied" | "failed";
  rows: number;
  ms?: number;
  error?: string;
}

export interface QueryRecord {
  id: number;
  command: string;
  dbms: string;
  started: Date;
  status: "running" | "completed" | "failed";
  ms?: number;
  rows?: number;
  error?: string;
  operators: OperatorState[];
  /** The SQL each operator ran, the merged table, the SQL over it. */
  remote: string;
  create: string;
  local: string;
}

/** Queries kept for `query status` / `query explain`. */
const KEPT = 50;

export class QueryLog {
  private next = 1;
  private readonly recent: QueryRecord[] = [];
  /** Queries that took up to 1 s, 2 s, ... 9 s, and over 9 s. */
  readonly buckets = new Array<number>(10).fill(0);
  since = new Date();

  begin(entry: Omit<QueryRecord, "id" | "started" | "status">): QueryRecord {
    const record: QueryRecord = { ...entry, id: this.next++, started: new Date(), status: "running" };
    this.recent.push(record);
    if (this.recent.length > KEPT) this.recent.shift();
    return record;
  }

  end(record: QueryRecord, outcome: { rows: number } | { error: string }): void {
    record.ms = Date.now() - record.started.getTime();
    if ("error" in outcome) {
      record.status = "failed";
      record.error = outcome.error;
    } else {
      record.status = "completed";
      record.rows = outcome.rows;
    }
    this.buckets[Math.min(9, Math.floor(Math.max(0, record.ms - 1) / 1000))]!++;
  }

  /** The last query, one by id, or all kept (newest first); an error naming a query no longer kept. */
  kept(which: string | undefined): Result<QueryRecord[]> {
    const found = this.find(which);
    return found ? ok(found) : fail("not_found", `no network query ${which} is kept (the last ${KEPT} are)`);
  }

  private find(which: string | undefined): QueryRecord[] | undefined {
    if (which === undefined || which === "") return this.recent.slice(-1);
    if (which.toLowerCase() === "all") return [...this.recent].reverse();
    const id = Number(which);
    const r = this.recent.find((q) => q.id === id);
    return r ? [r] : undefined;
  }

  reset(): void {
    this.buckets.fill(0);
    this.since = new Date();
  }
}

export const queryLog = nodeSlot(() => new QueryLog());

const which = { name: "which", type: "str", help: "all, a query id, or nothing for the last query", optional: true } as const;

addCommands(
  command({
    words: ["query", "status"],
    summary: "The state of the last network queries: each operator asked, its state, rows and time",
    method: "GET",
    positional: [which],
    examples: ["query status", "query status all", "query status 12"],
    handler(ctx, args) {
      const found = queryLog(ctx.node).kept(args.str("which"));
      if (!found.ok) return found;
      const rows = found.value.flatMap((q) =>
        q.operators.map((o, i) => [
          i === 0 ? q.id : "",
          i === 0 ? q.status : "",
          i === 0 ? (q.ms === undefined ? "" : `${(q.ms / 1000).toFixed(3)}`) : "",
          o.address,
          o.status,
          o.rows,
          o.ms === undefined ? "" : (o.ms / 1000).toFixed(3),
          o.error ?? "",
          i === 0 ? q.command : "",
        ]),
      );
      return ok(textTable(["ID", "Status", "Run Time", "Operator", "Operator Status", "Rows", "Operator Time", "Error", "Command"], rows));
    },
  }),
  command({
    words: ["query", "explain"],
    summary: "The SQL of the last network queries: what each operator ran, the merged table and the query over it",
    method: "GET",
    positional: [which],
    examples: ["query explain", "query explain all", "query explain 12"],
    handler(ctx, args) {
      const found = queryLog(ctx.node).kept(args.str("which"));
      if (!found.ok) return found;
      return ok(found.value.map((q) => `Query ${q.id}: ${q.command}\nRemote query: ${q.remote}\nLocal create: ${q.create}\nLocal query:  ${q.local}`).join("\n\n"));
    },
  }),
  command({
    words: ["get", "queries", "time"],
    summary: "How many network queries took up to 1, 2, ... 9 seconds, or longer, since the timer was reset",
    method: "GET",
    options: { format: { type: "str", help: "json for a JSON reply" } },
    handler(ctx, args) {
      const log = queryLog(ctx.node);
      const seconds = Math.round((Date.now() - log.since.getTime()) / 1000);
      const total = log.buckets.reduce((a, b) => a + b, 0);
      if (args.str("format") === "json") {
        return ok({ ...Object.fromEntries(log.buckets.map((n, i) => [i < 9 ? `up to ${i + 1} sec` : "over 9 sec", n])), total, seconds });
      }
      const hms = `${Math.floor(seconds / 3600)}:${Math.floor(seconds / 60) % 60}:${seconds % 60}`;
      const lines = log.buckets.map((n, i) => (i < 9 ? `Up to ${String(i + 1).padStart(2)} sec.: ${n}` : `Over   9 sec.: ${n}`));
      return ok([...lines, `Total queries: ${total}`, `Time interval: ${seconds} (sec.) : ${hms} (H:M:S)`].join("\n"));
    },
  }),
  command({
    words: ["reset", "query", "timer"],
    summary: "Starts the counts of 'get queries time' again",
    method: "POST",
    handler(ctx) {
      queryLog(ctx.node).reset();
      return ok("query timer reset");
    },
  }),
);
