/**
 * @module monitoring/status-page
 * The page a browser gets from `GET /` (REST, `Accept: text/html`, no `command` header): the
 * node's processes, its tables with their row counts, the last errors and, on an aggregator
 * (a query node), the monitored nodes with their figures. One HTML document made on the
 * server, every value escaped, no script (the REST server sends it with a Content-Security-
 * Policy that allows none), refreshed by the browser every 30 seconds; the row counts are
 * taken at most every 15 seconds.
 */
import type { Node } from "../node/node.ts";
import { rowsCount } from "../query/rows-count.ts";
import { VERSION } from "../version.ts";
import { monitored } from "./monitored.ts";
import { nodeSlot } from "../node/slot.ts";
import { fail } from "../util/result.ts";
import { timeText } from "../util/time-text.ts";

/** The page loads nothing and runs nothing: inline style only. */
export const STATUS_PAGE_POLICY = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const REFRESH_SECONDS = 30;
/** Monitored figures shown as columns (the others are in `get monitored <topic>`). */
const MAX_FIGURE_COLUMNS = 10;

/** Row counts are taken at most this often (a count reads every table; a page left open refreshes). */
const COUNT_EVERY_MS = 15_000;
/** How long the page waits for the counts. */
const COUNT_WITHIN_MS = 5_000;
const lastCounts = nodeSlot((): { at: number; counts?: Awaited<ReturnType<typeof rowsCount>> } => ({ at: 0 }));

/** Rows per table of the node's databases, counted again when the last count is older than COUNT_EVERY_MS. */
async function tableCounts(node: Node): ReturnType<typeof rowsCount> {
  const kept = lastCounts(node);
  if (!kept.counts || Date.now() - kept.at > COUNT_EVERY_MS) {
    // a database server that is away must not hold the page: past COUNT_WITHIN_MS it says so
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<Awaited<ReturnType<typeof rowsCount>>>((resolve) => {
      timer = setTimeout(() => resolve(fail("timeout", `counting took over ${COUNT_WITHIN_MS / 1000} s (is a database server away?)`)), COUNT_WITHIN_MS);
    });
    kept.counts = await Promise.race([rowsCount(node, { group: "table" }), late]).finally(() => clearTimeout(timer));
    kept.at = Date.now();
  }
  return kept.counts;
}

/** Text made safe for HTML content and attribute values. */
export function escapeHtml(text: unknown): string {
  return String(text ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

type Cell = string | number | boolean | null | undefined;

/** A table with an id (for tests and styles), its header row and its rows, or a line saying it is empty. */
function table(id: string, headers: string[], rows: Cell[][], empty: string, rowClass?: (row: Cell[]) => string): string {
  if (rows.length === 0) return `<p id="${id}" class="empty">${escapeHtml(empty)}</p>`;
  const head = headers.map((h) => `<th>${escapeHtml(h)}</th>`).join("");
  const body = rows
    .map((r) => {
      const cls = rowClass?.(r);
      return `<tr${cls ? ` class="${escapeHtml(cls)}"` : ""}>${r.map((c) => `<td>${escapeHtml(typeof c === "number" ? c.toLocaleString("en-US") : c)}</td>`).join("")}</tr>`;
    })
    .join("\n");
  return `<table id="${id}"><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}


const STYLE = `body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;background:#fafafa}
h1{font-size:1.4em;margin-bottom:.2em}h2{font-size:1.1em;margin-top:1.6em}
.meta{color:#555}table{border-collapse:collapse;background:#fff;margin-top:.4em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}th{background:#eee}
td:nth-child(n){white-space:pre-wrap;max-width:40em}.Running td:nth-child(2),.reporting td:nth-child(2){color:#070}
.Failed td:nth-child(2),.silent td:nth-child(2){color:#b00;font-weight:bold}.empty{color:#777;font-style:italic}`;

/** The status page of a node, as one HTML document. */
export async function statusPage(node: Node): Promise<string> {
  const tcp = node.processes.get("TCP")?.info();
  const address = typeof tcp?.external === "string" ? tcp.external : (node.dictionary.lookup("ip") ?? "");
  const uptime = Math.round((Date.now() - node.startedAt.getTime()) / 1000);

  const processes = node.processes.entries().map(([def, proc]) => [def.name, proc.status(), proc.status() === "Running" ? proc.details() : ""] as Cell[]);

  const counted = await tableCounts(node);
  const tables = counted.ok
    ? table("tables", ["Database", "Table", "Rows"], counted.value.map((t) => [t.dbms, t.table, t.rows]), node.databases.list().length === 0 ? "No database is connected." : "No tables.")
    : `<p id="tables" class="empty">The tables cannot be counted: ${escapeHtml(counted.error.message)}</p>`;

  const errors = node.metrics.recentErrors().map((e) => [timeText(e.at), e.command, e.message] as Cell[]);

  const m = monitored(node);
  const topics = m.topicNames().map((topic) => {
    const nodes = m.view(topic) ?? [];
    const keys = [...new Set(nodes.flatMap((n) => Object.keys(n.info)))].filter((k) => !/^(timestamp|node name)$/i.test(k)).slice(0, MAX_FIGURE_COLUMNS);
    const rows = nodes.map((n) => [n.id, n.reporting ? "Reporting" : "Not reporting", timeText(n.lastReport), `${Math.round(n.elapsed)} s`, ...keys.map((k) => {
      const v = n.info[k];
      return typeof v === "object" && v !== null ? JSON.stringify(v) : (v as Cell);
    })]);
    return `<h3>${escapeHtml(topic)}</h3>\n${table(`monitored-${topic.toLowerCase().replace(/[^a-z0-9_-]/g, "_")}`, ["Node", "Status", "Last report", "Elapsed", ...keys], rows, "No node reports.", (r) => (r[1] === "Reporting" ? "reporting" : "silent"))}`;
  });

  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="${REFRESH_SECONDS}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(node.name)} · AnyLog node</title>
<style>${STYLE}</style></head>
<body>
<h1 id="node-name">${escapeHtml(node.name)}</h1>
<p class="meta">${escapeHtml(address)} · version ${escapeHtml(VERSION)} · up ${escapeHtml(uptime.toLocaleString("en-US"))} s · ${escapeHtml(node.isStopping ? "stopping" : "running")} · ${escapeHtml(timeText(new Date()))} UTC</p>
<h2>Processes</h2>
${table("processes", ["Process", "Status", "Details"], processes, "No processes.", (r) => String(r[1]))}
<h2>Tables</h2>
${tables}
<h2>Last errors</h2>
${table("errors", ["Time", "Command", "Error"], errors, "No errors.")}
${topics.length > 0 ? `<h2>Monitored nodes</h2>\n${topics.join("\n")}` : ""}
</body></html>
`;
}
