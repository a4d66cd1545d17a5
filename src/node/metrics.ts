/**
 * @module node/metrics
 * Counters of one node, rendered as Prometheus text for `GET /metrics`. A feature adds
 * figures of its own with `gauge` (the intake: its journal), without the core knowing it.
 */
import type { ProcessSet } from "../processes/registry.ts";

export class Metrics {
  rowsIngested = 0;
  queries = 0;
  commands = 0;
  errors = 0;
  restRequests = 0;
  peerRequests = 0;
  private readonly gauges = new Map<string, { help: string; read: () => number }>();

  /** Adds (or replaces) a gauge read at every render. */
  gauge(name: string, help: string, read: () => number): void {
    this.gauges.set(name, { help, read });
  }

  /** Prometheus exposition text, with one gauge per process (1 = running). */
  render(processes: ProcessSet, uptimeSeconds: number): string {
    const lines: string[] = [];
    const counter = (name: string, help: string, value: number) => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`, `${name} ${value}`);
    };
    counter("anylog_rows_ingested_total", "Rows stored by this node.", this.rowsIngested);
    counter("anylog_queries_total", "SQL queries answered by this node.", this.queries);
    counter("anylog_commands_total", "Commands run through REST and TCP.", this.commands);
    counter("anylog_errors_total", "Commands that ended in an error.", this.errors);
    counter("anylog_rest_requests_total", "HTTP requests served.", this.restRequests);
    counter("anylog_peer_requests_total", "Peer messages served over TCP.", this.peerRequests);
    lines.push("# HELP anylog_uptime_seconds Seconds since the node started.", "# TYPE anylog_uptime_seconds gauge");
    lines.push(`anylog_uptime_seconds ${Math.round(uptimeSeconds)}`);
    lines.push("# HELP anylog_process_up 1 when the background process runs.", "# TYPE anylog_process_up gauge");
    for (const [def, proc] of processes.entries()) {
      lines.push(`anylog_process_up{process="${def.name}"} ${proc.status() === "Running" ? 1 : 0}`);
    }
    for (const [name, g] of this.gauges) lines.push(`# HELP ${name} ${g.help}`, `# TYPE ${name} gauge`, `${name} ${g.read()}`);
    return `${lines.join("\n")}\n`;
  }
}
