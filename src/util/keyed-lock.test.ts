import { expect, test } from "bun:test";
import { KeyedLock } from "./keyed-lock.ts";

test("work under one key runs in turn, in order; other keys run meanwhile; a failure releases the key", async () => {
  const lock = new KeyedLock();
  const log: string[] = [];
  const step = (name: string, ms: number, fail = false) => async () => {
    log.push(`${name}+`);
    await Bun.sleep(ms);
    log.push(`${name}-`);
    if (fail) throw new Error(name);
    return name;
  };
  const results = await Promise.allSettled([lock.run("t", step("a", 30, true)), lock.run("t", step("b", 10)), lock.run("u", step("c", 5)), lock.run("t", step("d", 1))]);
  expect(results.map((r) => r.status)).toEqual(["rejected", "fulfilled", "fulfilled", "fulfilled"]);
  // a, b and d never overlap and keep their order; c runs while a does
  expect(log.filter((e) => !e.startsWith("c"))).toEqual(["a+", "a-", "b+", "b-", "d+", "d-"]);
  expect(log.indexOf("c-")).toBeLessThan(log.indexOf("a-"));
});
