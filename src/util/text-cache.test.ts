import { expect, test } from "bun:test";
import { TextCache } from "./text-cache.ts";

test("a text is made once per key, and the cache starts over instead of passing its size", () => {
  const cache = new TextCache(100);
  const made: string[] = [];
  const get = (key: string, n: number) =>
    cache.get(key, () => {
      made.push(key);
      return "x".repeat(n);
    });
  expect(get("a", 10)).toBe("x".repeat(10));
  get("a", 10);
  get("b", 80); // "a" and "b": 92 characters with their keys
  get("a", 10);
  expect(made).toEqual(["a", "b"]);
  get("c", 20); // would pass 100: the cache starts over with "c" alone
  get("c", 20);
  get("a", 10);
  expect(made).toEqual(["a", "b", "c", "a"]);
});
