import { describe, expect, test } from "bun:test";
import { convert, parseDuration, substitute, substituteJson } from "./bind.ts";
import { Dictionary } from "./dictionary.ts";

const dict = new Dictionary({ name: "edge-1", port: "32148", ratio: "0.5", flag: "true", policy: '{"cluster": {"id": "abc"}}' }, { HOME: "/root" });

describe("substitute", () => {
  test("dictionary and environment references", () => {
    expect(substitute("!name:!port $HOME", dict)).toEqual({ ok: true, value: "edge-1:32148 /root" });
  });
  test("typed references check their value", () => {
    expect(substitute("!port.int", dict)).toEqual({ ok: true, value: "32148" });
    const bad = substitute("!name.int", dict);
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.error.message).toBe("'!name.int': 'edge-1' is not a whole number");
  });
  test("a missing reference is an error naming it, or empty when lenient", () => {
    const r = substitute("!nope", dict);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.message).toContain("'!nope' is not in the dictionary");
    expect(substitute("[!nope]", dict, true)).toEqual({ ok: true, value: "[]" });
    const env = substitute("$NOT_SET_ANYWHERE", dict);
    expect(env.ok).toBe(false);
  });
});

describe("substituteJson", () => {
  test("text becomes JSON strings, typed values numbers, JSON values are inserted", () => {
    const r = substituteJson('{"op": {"name": !name, "port": !port.int, "r": !ratio.float, "on": !flag.bool, "p": !policy, "s": "!name"}}', dict);
    expect(r).toEqual({
      ok: true,
      value: { op: { name: "edge-1", port: 32148, r: 0.5, on: true, p: { cluster: { id: "abc" } }, s: "!name" } },
    });
  });
  test("bad JSON is a clear error", () => {
    const r = substituteJson('{"a": }', dict);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.message).toStartWith("bad JSON");
  });
});

describe("convert", () => {
  test("each type, and an error naming what was expected", () => {
    expect(convert("12", "int", "x")).toEqual({ ok: true, value: 12 });
    expect(convert("TRUE", "bool", "x")).toEqual({ ok: true, value: true });
    expect(convert("a, b", "list", "x")).toEqual({ ok: true, value: ["a", "b"] });
    expect(convert("10.0.0.1:32048", "ipport", "x")).toEqual({ ok: true, value: "10.0.0.1:32048" });
    const r = convert("abc", "int", "'run scheduler' argument <id>");
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.message).toBe("'run scheduler' argument <id> expects a whole number, got 'abc'");
    expect(convert("1.2.3.4", "ipport", "x").ok).toBe(false);
  });
  test("durations", () => {
    expect(parseDuration("30 seconds")).toBe(30);
    expect(parseDuration("1 minute")).toBe(60);
    expect(parseDuration("2h")).toBe(7200);
    expect(parseDuration("1 day")).toBe(86400);
    expect(parseDuration("15")).toBe(15);
    expect(parseDuration("soon")).toBeUndefined();
  });
});
