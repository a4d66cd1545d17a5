/** GroupCommit: callers that ask while a flush runs share the next one; each is covered by a flush begun after it asked. */
import { expect, test } from "bun:test";
import { GroupCommit } from "./group-commit.ts";

test("one flush for everyone who asked while the previous one ran, and each caller is covered", async () => {
  let flushes = 0;
  let written = 0;
  let durable = 0;
  const sync = new GroupCommit(async () => {
    flushes++;
    const upTo = written; // what a flush starting now covers
    await Bun.sleep(5);
    durable = upTo;
    return durable;
  });
  const waits: Array<Promise<void>> = [];
  for (let i = 0; i < 50; i++) {
    const mine = ++written;
    waits.push(sync.request().then((covered) => expect(covered).toBeGreaterThanOrEqual(mine)));
    if (i % 10 === 0) await Bun.sleep(1);
  }
  await Promise.all(waits);
  expect(durable).toBe(50);
  expect(flushes).toBeLessThan(15); // 50 requests, a handful of flushes
});

test("a failed flush answers its callers with the failure; the next request flushes again", async () => {
  let n = 0;
  const sync = new GroupCommit(async () => {
    n++;
    if (n === 1) throw new Error("disk gone");
    return n;
  });
  await expect(sync.request()).rejects.toThrow("disk gone");
  expect(await sync.request()).toBe(2);
});
