/**
 * parseRows: every accepted form of data text, and the error naming what is at fault.
 */
import { describe, expect, test } from "bun:test";
import { parseRows } from "./rows.ts";

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

  test("keys become column names, of 63 characters at most", () => {
    expect(rows('{"Temp C": 1, "9lives": 2, "ok_1": 3}\n{"Temp C": 4}')).toEqual([{ temp_c: 1, _9lives: 2, ok_1: 3 }, { temp_c: 4 }]);
    expect(rows(JSON.stringify({ ["K".repeat(70)]: 1 }))).toEqual([{ ["k".repeat(63)]: 1 }]);
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
