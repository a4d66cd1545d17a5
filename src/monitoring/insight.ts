/**
 * @module monitoring/insight
 * The figures a node reports about itself: the psutil functions `get node info` names
 * (`cpu_percent`, `net_io_counters`, ...) and the `node_insight` object AnyLog's monitoring
 * schedule sends to a query node (`monitor operators where info = !node_insight`), here made
 * by one command, `get node insight`, instead of a dozen scheduled assignments.
 */
import type { Node } from "../node/node.ts";
import { type Result, ok } from "../util/result.ts";
import { cpuPercents, cpuTimes, diskCounters, diskUsage, loadAverage, memory, netCounters, swap } from "./system.ts";
import { timeText } from "../util/time-text.ts";

/** A figure `get node info <function>` reads: a number, or named values. */
export type NodeFunction = () => Promise<Result<number | Record<string, number> | number[]>>;

/** psutil's functions by name, as `get node info` takes them. */
export function nodeFunctions(): Record<string, NodeFunction> {
  const now = <T>(r: Result<T>) => Promise.resolve(r);
  return {
    cpu_percent: async () => {
      const p = await cpuPercents();
      return p.ok ? ok(p.value.total) : p;
    },
    cpu_times: async () => {
      const t = cpuTimes();
      return t.ok ? ok({ ...t.value.total }) : t;
    },
    cpu_times_percent: async () => {
      const p = await cpuPercents();
      return p.ok ? ok({ ...p.value.modes }) : p;
    },
    getloadavg: async () => now(loadAverage()),
    swap_memory: async () => now(swap()),
    virtual_memory: async () => {
      const m = memory();
      return m.ok ? ok({ ...m.value }) : m;
    },
    disk_io_counters: async () => {
      const d = diskCounters();
      return d.ok ? ok({ ...d.value.total }) : d;
    },
    net_io_counters: async () => {
      const n = netCounters();
      return n.ok ? ok({ ...n.value.total }) : n;
    },
  };
}

/** What the node is, for the insight's "node type": the dictionary's node_type, else from its processes. */
function nodeType(node: Node): string {
  const declared = node.dictionary.lookup("node_type");
  if (declared) return declared;
  const running = (name: string) => node.processes.get(name)?.status() === "Running";
  if (running("Operator")) return "operator";
  if (running("Publisher")) return "publisher";
  return "query";
}

/**
 * AnyLog's node_insight keys (timestamp, node type, Free Space Percent, CPU Percent, Packets
 * Recv, Packets Sent, Network Error, status), then the node's own counters. A figure the
 * machine does not give is left out.
 */
export async function nodeInsight(node: Node): Promise<Record<string, unknown>> {
  const insight: Record<string, unknown> = {
    "Node name": node.name,
    timestamp: timeText(new Date()),
    "node type": nodeType(node),
  };
  const disk = diskUsage(node.dictionary.lookup("anylog_path") ?? ".");
  if (disk.ok && disk.value.total > 0) insight["Free Space Percent"] = disk.value.freePercent;
  const cpu = await cpuPercents();
  if (cpu.ok) insight["CPU Percent"] = cpu.value.total;
  const mem = memory();
  if (mem.ok) insight["Memory Percent"] = mem.value.percent;
  const net = netCounters();
  if (net.ok) {
    insight["Packets Recv"] = net.value.total.packets_recv;
    insight["Packets Sent"] = net.value.total.packets_sent;
    insight["Network Error"] = net.value.total.errin + net.value.total.errout;
  }
  insight["Rows ingested"] = node.metrics.rowsIngested;
  insight.Queries = node.metrics.queries;
  insight.Errors = node.metrics.errors;
  insight["Processes running"] = node.processes.entries().filter(([, p]) => p.status() === "Running").map(([d]) => d.name).join(", ");
  insight["Uptime seconds"] = Math.round((Date.now() - node.startedAt.getTime()) / 1000);
  insight.status = "Active";
  return insight;
}
