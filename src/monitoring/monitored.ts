/**
 * @module monitoring/monitored
 * What an aggregator node (a query node) keeps of the nodes that report to it with
 * `monitor <topic> where info = {...}`: per topic, per node, the latest figures (each report's
 * keys replace the earlier ones) and when it last reported, as EdgeLake's `cmd/monitor.py`
 * keeps them. A node's reporting interval is learnt from the gaps between its reports; one
 * silent for more than two intervals is shown as not reporting.
 *
 * @example
 *   monitored(node).report("operators", { ip: "10.0.0.7", name: "op1" }, { "CPU Percent": 3.5 });
 *   monitored(node).view("operators"); // [{id: "10.0.0.7.op1", reporting: true, ...}]
 */
import { nodeSlot } from "../node/slot.ts";

/** Until a node has reported twice, its interval is taken as AnyLog's default monitoring frequency. */
export const DEFAULT_INTERVAL_SECONDS = 60;
/** Reports closer than this (two sent at once) do not make the interval shorter. */
const MIN_INTERVAL_SECONDS = 1;
/** Gaps kept per node to learn its interval (their median, so one late report does not change it). */
const KEPT_GAPS = 5;
/** Topics, and nodes per topic, kept: a bound on what senders can make the node hold. */
const MAX_TOPICS = 64;
const MAX_NODES = 4096;

interface Entry {
  id: string;
  ip: string;
  name?: string;
  info: Record<string, unknown>;
  first: number;
  last: number;
  reports: number;
  gaps: number[];
}

/** One monitored node as shown: its figures, when it last reported, whether it still does. */
export interface MonitoredNode {
  id: string;
  ip: string;
  name?: string;
  info: Record<string, unknown>;
  lastReport: Date;
  /** Seconds since the last report. */
  elapsed: number;
  /** Seconds between its reports (learnt), or the default until it reported twice. */
  interval: number;
  reports: number;
  /** False once it has been silent for more than two intervals. */
  reporting: boolean;
}

export class Monitored {
  /** Topic (lower case) → its name as first given, and its nodes by id. */
  private readonly topics = new Map<string, { name: string; nodes: Map<string, Entry> }>();

  /**
   * Takes a report. The node's id is `ip.name` when it has a name, else its ip (EdgeLake's);
   * a node reporting again updates its entry, keeping keys the new report does not carry.
   */
  report(topic: string, who: { ip: string; name?: string }, info: Record<string, unknown>, now = Date.now()): { ok: true; id: string } | { ok: false; why: string } {
    const key = topic.toLowerCase();
    let t = this.topics.get(key);
    if (!t) {
      if (this.topics.size >= MAX_TOPICS) return { ok: false, why: `already ${MAX_TOPICS} topics are monitored: reset one with 'reset monitored <topic>'` };
      t = { name: topic, nodes: new Map() };
      this.topics.set(key, t);
    }
    const id = who.name ? `${who.ip}.${who.name}` : who.ip;
    let e = t.nodes.get(id);
    if (!e) {
      if (t.nodes.size >= MAX_NODES) return { ok: false, why: `topic '${t.name}' already has ${MAX_NODES} nodes` };
      e = { id, ip: who.ip, name: who.name, info: {}, first: now, last: now, reports: 0, gaps: [] };
      t.nodes.set(id, e);
    } else {
      e.gaps.push((now - e.last) / 1000);
      if (e.gaps.length > KEPT_GAPS) e.gaps.shift();
      e.last = now;
    }
    e.reports++;
    Object.assign(e.info, info);
    return { ok: true, id };
  }

  /** The topics, as first named. */
  topicNames(): string[] {
    return [...this.topics.values()].map((t) => t.name);
  }

  has(topic: string): boolean {
    return this.topics.has(topic.toLowerCase());
  }

  /** The nodes of a topic (undefined when it is not monitored), by id. */
  view(topic: string, now = Date.now()): MonitoredNode[] | undefined {
    const t = this.topics.get(topic.toLowerCase());
    if (!t) return undefined;
    return [...t.nodes.values()]
      .sort((a, b) => a.id.localeCompare(b.id))
      .map((e) => {
        const interval = e.gaps.length > 0 ? Math.max(MIN_INTERVAL_SECONDS, median(e.gaps)) : DEFAULT_INTERVAL_SECONDS;
        const elapsed = Math.max(0, (now - e.last) / 1000);
        return { id: e.id, ip: e.ip, name: e.name, info: { ...e.info }, lastReport: new Date(e.last), elapsed, interval, reports: e.reports, reporting: elapsed <= 2 * interval };
      });
  }

  /** Forgets a topic's nodes (`reset monitored <topic>`); false when it is not monitored. */
  reset(topic: string): boolean {
    const t = this.topics.get(topic.toLowerCase());
    if (!t) return false;
    t.nodes.clear();
    return true;
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The monitored topics of a node. */
export const monitored = nodeSlot(() => new Monitored());
