/**
 * @module monitoring/commands
 * Node monitoring as AnyLog's commands (its documentation's "Resource monitoring" and
 * "Aggregator node", EdgeLake's psutil-based `utils_monitor.py`): `get cpu usage`, `get cpu
 * info`, `get memory info`, `get disk usage|free|used|total|percentage <path>`, `get node info
 * [function] [attribute]`, `get platform info`, `get rest calls`, `get connections`, `get error
 * log`, `get node insight` (the `node_insight` object AnyLog's monitoring schedule builds),
 * and the aggregator's `monitor <topic> where info = {...}`, `get monitored [topic]`, `reset
 * monitored <topic>`. Each answers `where format = json`. Figures come from monitoring/system.
 */
import type { Args, CommandSpec, OptionTable, Reply } from "../commands/spec.ts";
import { command } from "../commands/spec.ts";
import { addCommands } from "../commands/table.ts";
import type { CommandContext } from "../commands/context.ts";
import type { Node } from "../node/node.ts";
import { type Result, fail, ok } from "../util/result.ts";
import { textTable } from "../util/text-table.ts";
import { DEFAULT_INTERVAL_SECONDS, type MonitoredNode, monitored } from "./monitored.ts";
import { nodeFunctions, nodeInsight } from "./insight.ts";
import { cpuCounts, cpuPercents, diskUsage, memory, platformInfo } from "./system.ts";
// the machine's figures and the monitored nodes on /metrics, with these commands
import "./exporter.ts";
import { timeText } from "../util/time-text.ts";

type Format = "json" | "table";

const formatOption: OptionTable = { format: { type: "str", help: "json for a JSON reply, table (the default) for text" } };

/** The reply format asked for: json or table; anything else is an error naming it. */
function formatOf(args: Args, fallback: Format = "table"): Result<Format> {
  const f = args.str("format")?.trim().toLowerCase();
  if (f === undefined) return ok(fallback);
  if (f === "json" || f === "table") return ok(f);
  return fail("bad_option", `format = ${f} is not json or table`);
}

/** A key / value table for the text reply. */
const propertyTable = (values: Record<string, unknown>): string => textTable(["Property", "Value"], Object.entries(values).map(([k, v]) => [k, typeof v === "object" && v !== null ? JSON.stringify(v) : String(v)]));

/** What a read command found: its data (the JSON reply) and how it reads as text (a key / value table unless given). */
interface Found {
  data: Reply;
  text?: () => string;
}

/** A read command that answers `where format = json` with its data and text otherwise: the format is checked once, here. */
function report(spec: Omit<CommandSpec, "method" | "handler"> & { defaultFormat?: Format; find(ctx: CommandContext, args: Args): Promise<Result<Found>> | Result<Found> }): CommandSpec {
  const { find, defaultFormat, ...rest } = spec;
  return command({
    ...rest,
    method: "GET",
    options: { ...formatOption, ...(spec.options ?? {}) },
    async handler(ctx, args) {
      const format = formatOf(args, defaultFormat);
      if (!format.ok) return format;
      const found = await find(ctx, args);
      if (!found.ok) return found;
      const { data, text } = found.value;
      if (format.value === "json") return ok(data);
      return ok(text ? text() : typeof data === "object" && data !== null ? propertyTable(data as Record<string, unknown>) : String(data));
    },
  });
}

const megabytes = (bytes: number): string => `${Math.round(bytes / 1024 / 1024).toLocaleString("en-US")} MB`;


/** `HH:MM:SS` of a number of seconds. */
const hms = (seconds: number): string => {
  const s = Math.floor(seconds);
  return `${String(Math.floor(s / 3600)).padStart(2, "0")}:${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
};

/** The largest `info` a node may report: what an aggregator holds stays bounded (topics and nodes are, in monitored.ts). */
const MAX_INFO_BYTES = 64 * 1024;

/** The five `get disk ...` commands: one declaration each, from this list. */
const DISK_VIEWS = ["usage", "free", "used", "total", "percentage"] as const;

function diskCommand(view: (typeof DISK_VIEWS)[number]): CommandSpec {
  return report({
    words: ["get", "disk", view],
    summary:
      view === "usage"
        ? "Total, used and free bytes of the disk holding a path"
        : view === "percentage"
          ? "The percent of the disk holding a path that is free"
          : `The ${view} bytes of the disk holding a path`,
    positional: [{ name: "path", type: "str", help: "a file or directory on the disk (e.g. . or !anylog_path)" }],
    examples: [`get disk ${view} .`, `get disk ${view} !anylog_path where format = json`],
    find(ctx, args) {
      const path = args.str("path", "").trim();
      if (path === "") return fail("bad_option", `get disk ${view}: give a path (get disk ${view} .)`);
      const d = diskUsage(path);
      if (!d.ok) return d;
      const { total, used, free } = d.value;
      if (view === "usage") {
        const usage = { node: ctx.node.dictionary.lookup("ip") ?? "", path: d.value.path, total, used, free };
        const n = (x: number) => x.toLocaleString("en-US");
        return ok({ data: usage, text: () => textTable(["Path", "Total", "Used", "Free", "Used %"], [[d.value.path, n(total), n(used), n(free), d.value.percent]]) });
      }
      // AnyLog's percentage is the free part (its node_insight's "Free Space Percent")
      const value = view === "percentage" ? d.value.freePercent : d.value[view];
      return ok({ data: { [view]: value }, text: () => (view === "percentage" ? value.toFixed(2) : String(value)) });
    },
  });
}

/** One monitored node as `get monitored <topic>` shows it (EdgeLake's keys, then ours). */
function monitoredEntry(m: MonitoredNode): Record<string, unknown> {
  return {
    ...m.info,
    "Update time": timeText(m.lastReport),
    "Elapsed time": `${hms(m.elapsed)} (H:M:S)`,
    Status: m.reporting ? "Reporting" : "Not reporting",
    "Interval seconds": Math.round(m.interval * 10) / 10,
    Reports: m.reports,
  };
}

/** Who sent a `monitor` command: its `ip` / `name` options, else the sender's declared `name@ip`, else the connection. */
function reporter(ctx: CommandContext, args: Args, info: Record<string, unknown>): Result<{ ip: string; name?: string }> {
  const declared = /^(.*)@([^@]*)$/.exec(ctx.from ?? "");
  const fromInfo = [info.node_name, info["Node name"]].find((v): v is string => typeof v === "string" && v !== "");
  const name = args.str("name") ?? (declared?.[1] || undefined) ?? fromInfo;
  const peerIp = ctx.peer ? ctx.peer.replace(/:\d+$/, "").replace(/^\[|\]$/g, "") : undefined;
  const ip = args.str("ip") ?? (declared?.[2] || undefined) ?? peerIp ?? ctx.node.dictionary.lookup("external_ip") ?? ctx.node.dictionary.lookup("ip");
  if (!ip) return fail("bad_option", "monitor: the sender's IP is not known: give it with ip = <address>");
  return ok({ ip, name });
}

function monitorTable(nodes: MonitoredNode[]): string {
  const keys = [...new Set(nodes.flatMap((n) => Object.keys(n.info)))];
  const rows = nodes.map((n) => {
    const e = monitoredEntry(n);
    return [n.id, e.Status as string, e["Update time"] as string, hms(n.elapsed), ...keys.map((k) => (typeof n.info[k] === "object" ? JSON.stringify(n.info[k]) : (n.info[k] as string | number | undefined)))];
  });
  return textTable(["Node", "Status", "Update time", "Elapsed", ...keys], rows);
}

addCommands(
  report({
    words: ["get", "cpu", "usage"],
    summary: "How busy each CPU is (percent) since the last call, and their average",
    examples: ["get cpu usage", "get cpu usage where format = json"],
    async find() {
      const p = await cpuPercents();
      if (!p.ok) return p;
      const usage: Record<string, number> = {};
      p.value.perCpu.forEach((v, i) => {
        usage[`Core ${i + 1}`] = v;
      });
      const values = Object.values(usage);
      usage.Average = values.length > 0 ? Math.round((values.reduce((a, b) => a + b, 0) / values.length) * 100) / 100 : p.value.total;
      return ok({ data: usage, text: () => textTable(Object.keys(usage), [Object.values(usage)]) });
    },
  }),
  report({
    words: ["get", "cpu", "info"],
    summary: "The machine's physical and logical CPU cores and the processor",
    find() {
      const c = cpuCounts();
      return ok({ data: { "Physical Cores": c.physical, "Logical Cores": c.logical, Processor: platformInfo().processor } });
    },
  }),
  report({
    words: ["get", "memory", "info"],
    summary: "The machine's memory: total, available, used and free (bytes in JSON, MB in text)",
    examples: ["get memory info", "get memory info where format = json"],
    find() {
      const m = memory();
      if (!m.ok) return m;
      const { total, available, used, free, percent } = m.value;
      const text = () => propertyTable({ Total: megabytes(total), Available: megabytes(available), Used: megabytes(used), Free: megabytes(free), "Used %": percent });
      return ok({ data: { total, available, used, free, percent }, text });
    },
  }),
  ...DISK_VIEWS.map(diskCommand),
  report({
    words: ["get", "node", "info"],
    summary: "A psutil figure of the machine: cpu_percent, cpu_times, cpu_times_percent, getloadavg, swap_memory, virtual_memory, disk_io_counters, net_io_counters (one attribute with a second word); all of them without one",
    positional: [
      { name: "function", type: "str", help: "cpu_percent, cpu_times, cpu_times_percent, getloadavg, swap_memory, virtual_memory, disk_io_counters, net_io_counters", optional: true },
      { name: "attribute", type: "str", help: "one attribute of it (net_io_counters bytes_recv)", optional: true },
    ],
    examples: ["get node info cpu_percent", "get node info net_io_counters bytes_recv", "get node info where format = json"],
    async find(_ctx, args) {
      const name = args.str("function")?.toLowerCase();
      const attribute = args.str("attribute");
      const functions = nodeFunctions();
      if (name === undefined) {
        const all: Record<string, unknown> = {};
        for (const [fn, read] of Object.entries(functions)) {
          const r = await read();
          all[fn] = r.ok ? r.value : { error: r.error.message };
        }
        return ok({ data: all });
      }
      const read = functions[name];
      if (!read) return fail("bad_value", `get node info: '${name}' is not one of ${Object.keys(functions).join(", ")}`);
      const r = await read();
      if (!r.ok) return r;
      let value: unknown = r.value;
      if (attribute !== undefined) {
        if (typeof value !== "object" || value === null || !(attribute in value)) {
          const known = typeof value === "object" && value !== null ? Object.keys(value).join(", ") : "none (it is one number)";
          return fail("bad_value", `get node info ${name}: no attribute '${attribute}'; its attributes: ${known}`);
        }
        value = (value as Record<string, unknown>)[attribute];
      }
      const shown = value;
      const data = typeof shown === "object" && shown !== null ? shown : { [attribute ?? name]: shown };
      // as psutil prints a number, a tuple, a named tuple: cpu_times(user=..., ...)
      const text = () => {
        if (typeof shown !== "object" || shown === null) return String(shown);
        if (Array.isArray(shown)) return `(${shown.map(String).join(", ")})`;
        return `${name}(${Object.entries(shown).map(([k, v]) => `${k}=${String(v)}`).join(", ")})`;
      };
      return ok({ data, text });
    },
  }),
  report({
    words: ["get", "node", "insight"],
    summary: "The node's insight for monitoring: CPU, memory, free disk, network, rows, queries, errors (AnyLog's node_insight)",
    examples: ["node_insight = get node insight where format = json", "run client (!query_node) monitor operators where info = !node_insight"],
    async find(ctx) {
      return ok({ data: await nodeInsight(ctx.node) });
    },
  }),
  report({
    words: ["get", "platform", "info"],
    summary: "The operating system, its release and version, the host name, the machine and the processor",
    find() {
      const p = platformInfo();
      return ok({ data: { System: p.system, Release: p.release, Version: p.version, Node: p.node, Machine: p.machine, Processor: p.processor } });
    },
  }),
  report({
    words: ["get", "rest", "calls"],
    summary: "What the REST server served, per caller (User-Agent) and method: requests, errors, last error, first and last call",
    find(ctx) {
      const calls = ctx.node.metrics.restCalls().map((s) => ({
        Caller: s.caller,
        Call: s.method,
        Processed: s.processed,
        Errors: s.errors,
        "Last Error": s.lastError ?? "",
        "First Call": timeText(s.firstCall),
        "Last Call": timeText(s.lastCall),
        "Last Caller": s.lastClient,
      }));
      const headers = ["Caller", "Call", "Processed", "Errors", "Last Error", "First Call", "Last Call", "Last Caller"];
      return ok({ data: calls, text: () => `Statistics for REST calls\n${textTable(headers, calls.map((c) => Object.values(c)))}` });
    },
  }),
  report({
    words: ["get", "connections"],
    summary: "The addresses the node serves on: TCP (peers), REST (applications), Messaging (its broker)",
    find(ctx) {
      const connections: Record<string, { external: string; local: string; bind: string }> = {};
      for (const [type, name] of [["TCP", "TCP"], ["REST", "REST"], ["Messaging", "Message Broker"]] as const) {
        const proc = ctx.node.processes.get(name);
        const info = proc?.status() === "Running" ? proc.info() : {};
        const text = (v: unknown) => (typeof v === "string" && v !== "" ? v : undefined);
        const listening = text(info.listening);
        const external = text(info.external);
        const local = text(info.internal) ?? external;
        // the socket's address: the one IP with bind = true, else 0.0.0.0 (every address)
        connections[type] = { external: external ?? "Not declared", local: local ?? "Not declared", bind: listening ?? "Not declared" };
      }
      const text = () => textTable(["Type", "External Address", "Internal Address", "Bind Address"], Object.entries(connections).map(([t, c]) => [t, c.external, c.local, c.bind]));
      return ok({ data: connections, text });
    },
  }),
  report({
    words: ["get", "error", "log"],
    summary: "The last commands that ended in an error, newest first",
    find(ctx) {
      const errors = ctx.node.metrics.recentErrors().map((e) => ({ Time: timeText(e.at), Command: e.command, Error: e.message }));
      return ok({ data: errors, text: () => textTable(["Time", "Command", "Error"], errors.map((e) => [e.Time, e.Command, e.Error])) });
    },
  }),
  command({
    words: ["monitor"],
    summary: "Keeps a node's figures under a topic on this (aggregator) node; the nodes send it with run client on a schedule",
    method: "POST",
    positional: [{ name: "topic", type: "str", help: "what is monitored: operators, nodes, ..." }],
    options: {
      info: { type: "json", help: "the figures, a JSON object (e.g. !node_insight)", required: true },
      ip: { type: "str", help: "the reporting node's IP (default: the sender's)" },
      name: { type: "str", help: "the reporting node's name (default: the sender's node_name)" },
    },
    examples: [
      "schedule name = node_insight and time = 15 seconds task node_insight = get node insight where format = json",
      "schedule name = monitor_node and time = 15 seconds task run client (!query_node) monitor operators where info = !node_insight",
      'monitor operators where ip = 127.0.0.1 and name = dmc-usa and info = {"total events": 1000, "events per second": 10}',
    ],
    handler(ctx, args) {
      const topic = args.str("topic", "").trim();
      if (topic === "") return fail("bad_option", "monitor: name the topic (monitor operators where info = {...})");
      const info = args.json("info");
      if (typeof info !== "object" || info === null || Array.isArray(info)) return fail("bad_value", "monitor: info must be a JSON object of figures ({\"CPU Percent\": 3.5, ...})");
      if (JSON.stringify(info).length > MAX_INFO_BYTES) return fail("bad_value", `monitor: info is over ${MAX_INFO_BYTES / 1024} KB: send the figures, not data`);
      const who = reporter(ctx, args, info as Record<string, unknown>);
      if (!who.ok) return who;
      const r = monitored(ctx.node).report(topic, who.value, info as Record<string, unknown>);
      return r.ok ? ok(undefined) : fail("conflict", `monitor: ${r.why}`);
    },
  }),
  report({
    words: ["get", "monitored"],
    summary: `The monitored topics; with a topic, each node's latest figures, when it last reported, and whether it still does (silent for two intervals: not reporting; until it reported twice, the interval is ${DEFAULT_INTERVAL_SECONDS} s)`,
    positional: [{ name: "topic", type: "str", help: "the topic (operators, nodes, ...)", optional: true }],
    defaultFormat: "json",
    examples: ["get monitored", "get monitored operators", "get monitored operators where format = table"],
    find(ctx, args) {
      const m = monitored(ctx.node);
      const topic = args.str("topic");
      if (topic === undefined) return ok({ data: m.topicNames(), text: () => m.topicNames().join("\n") });
      const nodes = m.view(topic);
      if (!nodes) {
        const known = m.topicNames();
        return fail("not_found", `topic '${topic}' is not monitored${known.length > 0 ? ` (monitored: ${known.join(", ")})` : ": no node has reported with 'monitor <topic> where info = ...'"}`);
      }
      return ok({ data: Object.fromEntries(nodes.map((n) => [n.id, monitoredEntry(n)])), text: () => monitorTable(nodes) });
    },
  }),
  command({
    words: ["reset", "monitored"],
    peer: false,
    summary: "Forgets the nodes of a monitored topic (not from a peer: the nodes report, they do not erase)",
    method: "POST",
    positional: [{ name: "topic", type: "str", help: "the topic" }],
    handler(ctx, args) {
      const topic = args.str("topic", "");
      return monitored(ctx.node).reset(topic) ? ok(undefined) : fail("not_found", `topic '${topic}' is not monitored`);
    },
  }),
);

/** The monitored topics of a node with their nodes, for the status page and /metrics. */
export function monitoredTopics(node: Node): Array<{ topic: string; nodes: MonitoredNode[] }> {
  const m = monitored(node);
  return m.topicNames().map((topic) => ({ topic, nodes: m.view(topic) ?? [] }));
}
