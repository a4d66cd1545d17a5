/**
 * The aggregator's memory of monitored nodes, with the clock given: ids as EdgeLake makes
 * them, figures merged report by report, the interval learnt from the gaps (a median, so one
 * late report does not move it), not reporting after two intervals of silence, reset.
 */
import { describe, expect, test } from "bun:test";
import { DEFAULT_INTERVAL_SECONDS, Monitored } from "./monitored.ts";

const T0 = Date.UTC(2026, 11, 5, 8, 0, 0);
const at = (seconds: number) => T0 + seconds * 1000;

describe("Monitored", () => {
  test("a node is ip.name (or its ip alone); a new report's keys replace the old, the others stay", () => {
    const m = new Monitored();
    expect(m.report("Operators", { ip: "10.0.0.7", name: "op1" }, { cpu: 1, rows: 5 }, at(0))).toEqual({ ok: true, id: "10.0.0.7.op1" });
    m.report("operators", { ip: "10.0.0.7", name: "op1" }, { cpu: 2 }, at(10));
    m.report("operators", { ip: "10.0.0.8" }, { cpu: 9 }, at(10));
    expect(m.topicNames()).toEqual(["Operators"]);
    const view = m.view("OPERATORS", at(11))!;
    expect(view.map((n) => n.id)).toEqual(["10.0.0.7.op1", "10.0.0.8"]);
    expect(view[0]!.info).toEqual({ cpu: 2, rows: 5 });
    expect(view[0]!.reports).toBe(2);
    expect(view[0]!.elapsed).toBe(1);
  });

  test("the interval is the median gap; silent for more than two intervals is not reporting", () => {
    const m = new Monitored();
    const who = { ip: "10.0.0.7", name: "op1" };
    for (const s of [0, 15, 30, 80, 95, 110]) m.report("operators", who, {}, at(s)); // one late report (50 s gap)
    const node = (now: number) => m.view("operators", at(now))![0]!;
    expect(node(110).interval).toBe(15);
    expect(node(140).reporting).toBe(true);
    expect(node(140.5).reporting).toBe(false);
  });

  test("until a node reported twice its interval is the default; reports sent together do not make it shorter than a second", () => {
    const m = new Monitored();
    m.report("nodes", { ip: "a" }, {}, at(0));
    expect(m.view("nodes", at(0))![0]!.interval).toBe(DEFAULT_INTERVAL_SECONDS);
    expect(m.view("nodes", at(2 * DEFAULT_INTERVAL_SECONDS + 1))![0]!.reporting).toBe(false);
    m.report("nodes", { ip: "a" }, {}, at(0.01));
    expect(m.view("nodes", at(0.01))![0]!.interval).toBe(1);
  });

  test("an unknown topic is undefined; reset forgets the nodes and keeps the topic", () => {
    const m = new Monitored();
    expect(m.view("operators")).toBeUndefined();
    expect(m.reset("operators")).toBe(false);
    m.report("operators", { ip: "a" }, { x: 1 });
    expect(m.reset("Operators")).toBe(true);
    expect(m.view("operators")).toEqual([]);
    expect(m.has("operators")).toBe(true);
  });
});
