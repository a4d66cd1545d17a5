/**
 * parseRows: every accepted form of data text, and the error naming what is at fault.
 */
import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { MAX_NAME, columnName, parseRows } from "./rows.ts";

const md5 = (text: string) => createHash("md5").update(text).digest("hex").slice(0, 8);

const rows = (text: string) => {
  const r = parseRows(text);
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
};
const error = (text: string) => {
  const r = parseRows(text);
  if (r.ok) throw new Error(`accepted: ${JSON.stringify(r.value)}`);
  return r.error.message;
};

describe("parseRows", () => {
  test("one object per line, with CRLF and surrounding blanks", () => {
    expect(rows('\n {"a": 1}\r\n{"a": 2}\n{"b": "x"}\n\n')).toEqual([{ a: 1 }, { a: 2 }, { b: "x" }]);
  });

  test("blank lines between objects", () => {
    expect(rows('{"a": 1}\n\n  \n{"a": 2}')).toEqual([{ a: 1 }, { a: 2 }]);
  });

  test("a JSON array, a single object, an object over many lines", () => {
    expect(rows('[{"a": 1}, {"a": 2}]')).toEqual([{ a: 1 }, { a: 2 }]);
    expect(rows('{"a": 1}')).toEqual([{ a: 1 }]);
    expect(rows('{\n  "a": 1,\n  "b": [1, 2]\n}')).toEqual([{ a: 1, b: [1, 2] }]);
  });

  test("keys become column names, of 63 bytes at most", () => {
    expect(rows('{"Temp C": 1, "9lives": 2, "ok_1": 3}\n{"Temp C": 4}')).toEqual([{ temp_c: 1, _9lives: 2, ok_1: 3 }, { temp_c: 4 }]);
    // (was cut to 63 characters: two long keys with the same start shared one column)
    expect(rows(JSON.stringify({ ["K".repeat(70)]: 1, ["k".repeat(71)]: 2 }))).toEqual([{ [`${"k".repeat(54)}_a7bb24f5`]: 1, [`${"k".repeat(54)}_${md5("k".repeat(71))}`]: 2 }]);
  });

  test("errors name the line or element at fault", () => {
    expect(error("")).toContain("empty");
    expect(error("[]")).toContain("array is empty");
    expect(error("[1, 2")).toContain("not a JSON array");
    expect(error('[{"a": 1}, 7]')).toBe("element 2 is not a JSON object");
    expect(error('{"a": 1}\n{"a": \n{"a": 3}')).toContain("line 2 is not JSON");
    expect(error('{"a": 1}\n\n[1]')).toBe("line 3 is not a JSON object");
    expect(error('{"a": 1}\n{}')).toBe("line 2 has no values");
    expect(error("{nope")).toContain("line 1 is not JSON");
  });
});

describe("column names: every key its own column, the same one every time", () => {
  test("keys in other scripts keep their letters; only A-Z are lower-cased", () => {
    expect(rows('{"温度": 10, "湿度": 20, "Grüße": 1, "ÄPFEL": 2}')).toEqual([{ 温度: 10, 湿度: 20, grüße: 1, Äpfel: 2 }]);
    expect(columnName("温度 (°C)")).toBe("温度___c_");
    expect(columnName("  Device-ID ")).toBe("device_id");
    expect(columnName("")).toBe("_");
  });

  test("keys that become one name in one row are refused, naming both", () => {
    expect(error('{"id": 1, "a-b": 1, "a_b": 2, "a b": 3}')).toBe("the body: the keys 'a-b' and 'a_b' both become column 'a_b' (A-Z become a-z, other characters than letters, digits and _ become _): rename one of them");
    expect(error('{"n": 1}\n{"Val": 1, "val": 2, "VAL": 3}')).toStartWith("line 2: the keys 'Val' and 'val' both become column 'val'");
    // in different rows they are one column, as the rule says
    expect(rows('{"Val": 1}\n{"val": 2}')).toEqual([{ val: 1 }, { val: 2 }]);
  });

  test("a key named like a bookkeeping column or a PostgreSQL system column gets a leading _", () => {
    expect(rows('{"row_id": 1, "insert_timestamp": "x", "tsd_name": "n", "TSD_ID": 4, "xmin": 5, "ctid": 6}')).toEqual([
      { _row_id: 1, _insert_timestamp: "x", _tsd_name: "n", _tsd_id: 4, _xmin: 5, _ctid: 6 },
    ]);
    expect(error('{"row_id": 1, "_row_id": 2}')).toContain("the keys 'row_id' and '_row_id' both become column '_row_id'");
  });

  test("names of more than 63 bytes (UTF-8) keep 54 bytes of whole characters and a hash of the whole name", () => {
    const long = columnName("温".repeat(30)); // 90 bytes
    expect(long).toBe(`${"温".repeat(18)}_${md5("温".repeat(30))}`);
    expect(Buffer.byteLength(long)).toBe(63);
    expect(Buffer.byteLength(columnName("é".repeat(40)))).toBeLessThanOrEqual(MAX_NAME);
    expect(columnName("x".repeat(63))).toBe("x".repeat(63));
  });

  test("a key's name depends on the key alone", () => {
    const a = rows('{"Temp C": 1, "温度": 2}')[0]!;
    const b = rows('{"other": 0, "温度": 3, "Temp C": 4}')[0]!;
    expect(Object.keys(a)).toEqual(["temp_c", "温度"]);
    expect(Object.keys(b).sort()).toEqual(["other", "temp_c", "温度"]);
  });

  test("a key __proto__ is a column like any other", () => {
    const [row] = rows('{"__proto__": 1, "A": 2}');
    expect(Object.keys(row!)).toEqual(["__proto__", "a"]);
    expect(Object.getPrototypeOf(row)).toBe(Object.prototype);
  });
});

describe("values: nothing lost or changed", () => {
  test("integers keep every digit up to 64 bits (as bigint beyond 2^53)", () => {
    expect(rows('{"a": 9007199254740993, "b": 9007199254740991, "c": -9223372036854775808, "d": 9223372036854775807, "e": 1.5e300}')).toEqual([
      { a: 9007199254740993n, b: 9007199254740991, c: -9223372036854775808n, d: 9223372036854775807n, e: 1.5e300 },
    ]);
    expect(rows('[{"a": 1}, {"a": 12345678901234567}]')).toEqual([{ a: 1 }, { a: 12345678901234567n }]);
  });

  test("a number no column type holds is refused, naming its key", () => {
    expect(error('{"x": 1e400}')).toBe("the body: 'x' is 1e400, beyond the largest float (about 1.8e308), which no column type holds: send it as text to keep it");
    expect(error('{"n": 1}\n{"n": 9223372036854775808}')).toStartWith("line 2: 'n' is 9223372036854775808, an integer beyond 64 bits");
    expect(error(`{"n": ${"7".repeat(10_000)}}`)).toStartWith(`the body: 'n' is ${"7".repeat(24)}...(10000 characters), an integer beyond 64 bits`);
  });

  test("numbers inside nested values keep their own digits in the JSON text", () => {
    const [row] = rows('{"v": [9007199254740993, 1e400, {"c": 123456789012345678901234567890}, 0.5]}');
    expect(JSON.stringify(row!.v)).toBe('[9007199254740993,1e400,{"c":123456789012345678901234567890},0.5]');
  });

  test("a lone surrogate is refused, naming its key; a pair written as escapes is its character", () => {
    expect(error('{"a": "\\ud800"}')).toStartWith(`the body: 'a' is "\\ud800", text with a lone surrogate`);
    expect(error('{"a": ["ok", "x\\udc00"]}')).toStartWith(`the body: 'a' holds "x\\udc00", text with a lone surrogate`);
    expect(error('{"\\ud800": 1}')).toStartWith('the body: the key "\\ud800" holds a lone surrogate');
    expect(error('{"a": "\ud800"}')).toStartWith("the body: 'a' is"); // (the text itself, not an escape)
    expect(rows('{"a": "\\ud83d\\ude00"}')).toEqual([{ a: "😀" }]);
  });
});
