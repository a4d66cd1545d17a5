/**
 * @module node/metrics
 * Counters of one node, rendered as Prometheus text for `GET /metrics`. A feature adds
 * figures of its own without the core knowing it: one gauge with `gauge` (the intake: its
 * journal), or whole families with labels through `addCollector` (monitoring: the machine's
 * figures under node_exporter's names, the monitored operators). It also keeps what the REST
 * server served per caller and method (`get rest calls`) and the last errors (the status page).
 */
import type { Node } from "./node.ts";
import { redact } from "../util/log.ts";

export type MetricType = "counter" | "gauge";

/** One value of a family, with its labels. */
export interface Sample {
  labels?: Record<string, string>;
  value: number;
}

/** A metric family: every family is rendered with its HELP and TYPE lines. */
export interface MetricFamily {
  name: string;
  help: string;
  type: MetricType;
  samples: Sample[];
}

/** Families read at every render, for any node (registered once, by the module that owns them). */
export type Collector = (node: Node) => MetricFamily[];

const collectors: Collector[] = [];

/** Adds families to every node's `/metrics` (a module calls it once, when loaded). */
export function addCollector(collect: Collector): void {
  collectors.push(collect);
}

/** What the REST server served to one caller (its User-Agent) by one method. */
export interface RestCallStats {
  caller: string;
  method: string;
  processed: number;
  errors: number;
  /** The status of the last answer that was an error (4xx/5xx). */
  lastError?: number;
  firstCall: Date;
  lastCall: Date;
  /** The address of the last client. */
  lastClient: string;
}

/** A command that ended in an error. */
export interface ErrorNote {
  at: Date;
  command: string;
  message: string;
}

/** How many errors `recentErrors` keeps. */
const KEPT_ERRORS = 20;
/** Callers kept apart in the REST statistics; past it, new ones are counted as "other". */
const KEPT_CALLERS = 64;

export class Metrics {
  rowsIngested = 0;
  queries = 0;
  commands = 0;
  errors = 0;
  restRequests = 0;
  peerRequests = 0;
  private readonly gauges = new Map<string, { help: string; read: () => number }>();
  private readonly rest = new Map<string, RestCallStats>();
  private readonly lastErrors: ErrorNote[] = [];

  /** Adds (or replaces) a gauge read at every render. */
  gauge(name: string, help: string, read: () => number): void {
    this.gauges.set(name, { help, read });
  }

  /** Counts a command that ended in an error and keeps it among the last ones (secrets masked). */
  noteError(command: string, message: string): void {
    this.errors++;
    this.lastErrors.push({ at: new Date(), command: redact(command), message: redact(message) });
    if (this.lastErrors.length > KEPT_ERRORS) this.lastErrors.shift();
  }

  /** The last errors, newest first. */
  recentErrors(): ErrorNote[] {
    return [...this.lastErrors].reverse();
  }

  /** Counts one answered HTTP request of `caller` (its User-Agent) by `method`, with its status. */
  restCall(caller: string, method: string, status: number, client: string): void {
    this.restRequests++;
    const who = this.rest.size >= KEPT_CALLERS && ![...this.rest.values()].some((s) => s.caller === caller) ? "other" : caller;
    const key = `${who}\n${method}`;
    const now = new Date();
    let s = this.rest.get(key);
    if (!s) {
      s = { caller: who, method, processed: 0, errors: 0, firstCall: now, lastCall: now, lastClient: client };
      this.rest.set(key, s);
    }
    s.processed++;
    s.lastCall = now;
    s.lastClient = client;
    if (status >= 400) {
      s.errors++;
      s.lastError = status;
    }
  }

  /** What REST served, per caller and method. */
  restCalls(): RestCallStats[] {
    return [...this.rest.values()].map((s) => ({ ...s }));
  }

  /** The node's own families: its counters, uptime, and each process's state. */
  private ownFamilies(node: Node): MetricFamily[] {
    const counter = (name: string, help: string, value: number): MetricFamily => ({ name, help, type: "counter", samples: [{ value }] });
    const processes = node.processes.entries();
    const calls = this.restCalls();
    const STATES = ["Running", "Stopped", "Failed", "Not declared"] as const;
    return [
      counter("anylog_rows_ingested_total", "Rows stored by this node.", this.rowsIngested),
      counter("anylog_queries_total", "SQL queries answered by this node.", this.queries),
      counter("anylog_commands_total", "Commands run through REST and TCP.", this.commands),
      counter("anylog_errors_total", "Commands that ended in an error.", this.errors),
      counter("anylog_rest_requests_total", "HTTP requests served.", this.restRequests),
      counter("anylog_peer_requests_total", "Peer messages served over TCP.", this.peerRequests),
      {
        name: "anylog_rest_calls_total",
        help: "HTTP requests served, by method and caller (User-Agent).",
        type: "counter",
        samples: calls.map((s) => ({ labels: { method: s.method, caller: s.caller }, value: s.processed })),
      },
      {
        name: "anylog_rest_errors_total",
        help: "HTTP requests answered with a 4xx or 5xx status, by method and caller (User-Agent).",
        type: "counter",
        samples: calls.map((s) => ({ labels: { method: s.method, caller: s.caller }, value: s.errors })),
      },
      { name: "anylog_uptime_seconds", help: "Seconds since the node started.", type: "gauge", samples: [{ value: Math.round((Date.now() - node.startedAt.getTime()) / 1000) }] },
      {
        name: "anylog_process_up",
        help: "1 when the background process runs.",
        type: "gauge",
        samples: processes.map(([def, proc]) => ({ labels: { process: def.name }, value: proc.status() === "Running" ? 1 : 0 })),
      },
      {
        name: "anylog_process_state",
        help: "The state of each background process: 1 for the state it is in, 0 for the others.",
        type: "gauge",
        samples: processes.flatMap(([def, proc]) => STATES.map((state) => ({ labels: { process: def.name, state }, value: proc.status() === state ? 1 : 0 }))),
      },
    ];
  }

  /** Prometheus exposition text (version 0.0.4): every family once, with HELP and TYPE. */
  render(node: Node): string {
    const families = this.ownFamilies(node);
    for (const [name, g] of this.gauges) families.push({ name, help: g.help, type: "gauge", samples: [{ value: g.read() }] });
    for (const collect of collectors) families.push(...collect(node));
    const seen = new Set<string>();
    const lines: string[] = [];
    for (const f of families) {
      if (seen.has(f.name)) continue; // a family is written once: the first declaration wins
      seen.add(f.name);
      lines.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
      for (const s of f.samples) lines.push(`${f.name}${labelText(s.labels)} ${numberText(s.value)}`);
    }
    return `${lines.join("\n")}\n`;
  }
}

const escapeHelp = (text: string): string => text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
const escapeLabel = (text: string): string => text.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");

function labelText(labels: Record<string, string> | undefined): string {
  const entries = Object.entries(labels ?? {});
  if (entries.length === 0) return "";
  return `{${entries.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",")}}`;
}

function numberText(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Number.POSITIVE_INFINITY) return "+Inf";
  if (value === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(value);
}
