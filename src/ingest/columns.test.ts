/**
 * Times as stored: UTC text "YYYY-MM-DD HH:MM[:SS[.f]]" from ISO forms with T, Z or an
 * offset (the fraction kept to the digit), from epoch seconds or milliseconds, and from
 * other forms Date reads. Integers of 64 bits go into int columns with every digit.
 */
import { expect, test } from "bun:test";
import { fitsAsIs, timeOf, typeOfValue, utcText, valueFor } from "./columns.ts";

test("ISO times to UTC text", () => {
  expect(utcText("2026-01-01T10:00:00Z")).toBe("2026-01-01 10:00:00");
  expect(utcText("2026-01-01T10:00:00.123456Z")).toBe("2026-01-01 10:00:00.123456");
  expect(utcText("2026-01-01T01:30:00+02:00")).toBe("2025-12-31 23:30:00");
  expect(utcText("2026-01-01 01:30-0530")).toBe("2026-01-01 07:00");
  expect(utcText("2024-02-29T23:10:00.5-01:00")).toBe("2024-03-01 00:10:00.5");
  expect(utcText("2026-01-01T10:00")).toBe("2026-01-01 10:00");
  expect(utcText(" 2026-01-01 10:00:00 ")).toBe("2026-01-01 10:00:00");
  expect(utcText("10:00 2026-01-01")).toBeUndefined();
});

test("a time column takes epoch seconds and milliseconds and other written forms, and refuses what is no time", () => {
  expect(valueFor("timestamp", Date.UTC(2026, 0, 1, 11) / 1000, "ts")).toEqual({ ok: true, value: "2026-01-01 11:00:00.000" });
  expect(valueFor("timestamp", Date.UTC(2026, 0, 1, 11), "ts")).toEqual({ ok: true, value: "2026-01-01 11:00:00.000" });
  expect(valueFor("timestamp", "Jan 2 2026 10:00 GMT", "ts")).toEqual({ ok: true, value: "2026-01-02 10:00:00.000" });
  expect(valueFor("timestamp", "2026-01-01 10:00:00", "ts")).toEqual({ ok: true, value: "2026-01-01 10:00:00" });
  const bad = valueFor("timestamp", "soon", "ts");
  expect(bad.ok ? "" : bad.error.message).toBe(`column 'ts' is timestamp, the value "soon" does not fit`);
});

test("the instant of a value: ISO text without a zone is UTC whatever the node's time zone", () => {
  const zone = process.env.TZ;
  process.env.TZ = "America/New_York";
  try {
    expect(timeOf("2026-01-01T23:30:00")?.toISOString()).toBe("2026-01-01T23:30:00.000Z");
    expect(timeOf("2026-01-01 23:30:00.123456")?.toISOString()).toBe("2026-01-01T23:30:00.123Z");
    expect(timeOf("2026-01-01T23:30:00-05:00")?.toISOString()).toBe("2026-01-02T04:30:00.000Z");
    expect(timeOf(Date.UTC(2026, 0, 1) / 1000)?.toISOString()).toBe("2026-01-01T00:00:00.000Z");
    expect(timeOf("soon")).toBeUndefined();
    expect(timeOf(true)).toBeUndefined();
  } finally {
    if (zone === undefined) delete process.env.TZ;
    else process.env.TZ = zone;
  }
});

test("64-bit integers: an int column takes them as bigint beyond 2^53, a float column only when no digit is lost", () => {
  expect(typeOfValue(9007199254740993n)).toBe("int");
  expect(typeOfValue(42)).toBe("int");
  expect(typeOfValue(1e20)).toBe("float"); // a float as written: no integer column holds it
  expect(fitsAsIs("int", 9007199254740993n)).toBe(true);
  expect(fitsAsIs("int", 2 ** 60)).toBe(false);
  expect(valueFor("int", 2 ** 60, "n")).toEqual({ ok: true, value: 2n ** 60n });
  expect(valueFor("int", "9007199254740993", "n")).toEqual({ ok: true, value: 9007199254740993n });
  expect(valueFor("int", " 12 ", "n")).toEqual({ ok: true, value: 12 });
  const beyond = valueFor("int", "9223372036854775808", "n");
  expect(beyond.ok ? "" : beyond.error.message).toBe("column 'n' is int (64 bits), the value 9223372036854775808 is beyond it");
  expect(valueFor("float", 2n ** 60n, "f")).toEqual({ ok: true, value: 2 ** 60 });
  const rounded = valueFor("float", 9007199254740993n, "f");
  expect(rounded.ok ? "" : rounded.error.message).toContain("does not fit without losing digits");
  expect(valueFor("text", 9007199254740993n, "t")).toEqual({ ok: true, value: "9007199254740993" });
  expect(valueFor("text", { a: [9007199254740993n] }, "t")).toEqual({ ok: true, value: '{"a":[9007199254740993]}' });
  expect(valueFor("timestamp", BigInt(Date.UTC(2026, 0, 1, 11)), "ts")).toEqual({ ok: true, value: "2026-01-01 11:00:00.000" });
});
